/**
 * `kubeha up`: the phases, in order. Read top to bottom, this is what a
 * deployment does; every phase changes only what differs from the spec, and
 * everything that can refuse the run does so before the first change (the
 * PKI is prepared in scratch and saved only after the hosts are validated).
 */
import { join } from "node:path";
import { withStateLock } from "../core/lock.js";
import { pkiDirOf } from "../core/state-dir.js";
import {
  type Change,
  type Connector,
  DeployContext,
  type DeployOptions,
  type Reporter,
} from "../deploy/context.js";
import { type Phase, runPhases } from "../deploy/runner.js";
import { ConfigureEtcd } from "../phases/configure-etcd.js";
import { Connect } from "../phases/connect.js";
import { EtcdAuth } from "../phases/etcd-auth.js";
import { EtcdMembers } from "../phases/etcd-members.js";
import { GatherFacts } from "../phases/gather-facts.js";
import { InstallEtcd } from "../phases/install-etcd.js";
import { PreparePki } from "../phases/prepare-pki.js";
import { SavePki } from "../phases/save-pki.js";
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
export const UP_PHASES: readonly Phase<DeployContext>[] = [
  PreparePki,
  Connect,
  GatherFacts,
  ValidateHosts,
  SavePki,
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

/** Runs every phase of `up` against `cluster`, with the state directory locked. */
export async function up(
  cluster: Cluster,
  stateDir: string,
  options: DeployOptions,
  report: Reporter,
  connect: Connector = sshConnector,
): Promise<UpResult> {
  const started = Date.now();
  const ctx = new DeployContext({ cluster, stateDir, pkiDir: pkiDirOf(stateDir), options, report, connect });
  const command = `kubeha up${options.dryRun ? " --dry-run" : ""}`;
  await withStateLock(stateDir, command, () => runPhases(UP_PHASES, ctx));
  return { changes: ctx.changes, seconds: (Date.now() - started) / 1000 };
}
