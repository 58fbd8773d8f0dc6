/**
 * `kubeha up`: the phases, in order. Read top to bottom, this is what a
 * deployment does; every phase changes only what differs from the spec.
 */
import { join } from "node:path";
import { ensurePrivateDir } from "../core/files.js";
import { pkiDirOf } from "../core/state-dir.js";
import {
  type Change,
  type Connector,
  DeployContext,
  type DeployOptions,
  type Reporter,
} from "../deploy/context.js";
import { ConfigureEtcd } from "../phases/configure-etcd.js";
import { Connect } from "../phases/connect.js";
import { EtcdAuth } from "../phases/etcd-auth.js";
import { EtcdMembers } from "../phases/etcd-members.js";
import { GatherFacts } from "../phases/gather-facts.js";
import { GeneratePki } from "../phases/generate-pki.js";
import { InstallEtcd } from "../phases/install-etcd.js";
import type { Phase } from "../phases/phase.js";
import { StartEtcd } from "../phases/start-etcd.js";
import { StartServices } from "../phases/start-services.js";
import { UploadFiles } from "../phases/upload-files.js";
import { ValidateHosts } from "../phases/validate-hosts.js";
import { VerifyApi } from "../phases/verify-api.js";
import { VerifyEtcd } from "../phases/verify-etcd.js";
import { WriteEtcdAccess } from "../phases/write-etcd-access.js";
import type { Cluster } from "../spec/defaults.js";
import { connectSsh } from "../transport/ssh.js";

/** The phases of `up`, in the order they run. */
export const UP_PHASES: readonly Phase[] = [
  GeneratePki,
  Connect,
  GatherFacts,
  ValidateHosts,
  InstallEtcd,
  UploadFiles,
  ConfigureEtcd,
  StartEtcd,
  EtcdMembers,
  VerifyEtcd,
  EtcdAuth,
  WriteEtcdAccess,
  StartServices,
  VerifyApi,
];

/** The SSH connector of real runs: keys pinned in the state directory. */
export const sshConnector: Connector = (host, ctx) =>
  connectSsh(host, {
    stateKnownHosts: join(ctx.stateDir, "known_hosts"),
    onPinned: (name, fp) => ctx.report.host(name, `pinned host key ${fp} on first use`),
  });

/** The outcome of `up`. */
export interface UpResult {
  readonly changes: readonly Change[];
  readonly seconds: number;
}

/** Runs every phase of `up` against `cluster`. */
export async function up(
  cluster: Cluster,
  stateDir: string,
  options: DeployOptions,
  report: Reporter,
  connect: Connector = sshConnector,
): Promise<UpResult> {
  const started = Date.now();
  ensurePrivateDir(stateDir);
  const ctx = new DeployContext({ cluster, stateDir, pkiDir: pkiDirOf(stateDir), options, report, connect });
  try {
    for (const phase of UP_PHASES) {
      ctx.phase = phase.title;
      report.phase(phase.title);
      await phase.run(ctx);
    }
  } finally {
    await Promise.all(ctx.hosts.map((h) => h.transport?.close()));
  }
  return { changes: ctx.changes, seconds: (Date.now() - started) / 1000 };
}
