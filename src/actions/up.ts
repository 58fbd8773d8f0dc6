/**
 * `kubeha up`: the phases, in order. Read top to bottom, this is what a
 * deployment does; every phase changes only what differs from the spec, and
 * everything that can refuse the run does so before the first change (the
 * PKI is prepared in scratch and saved only after the hosts are validated).
 */
import { join } from "node:path";
import { HostError, MultiHostError } from "../core/errors.js";
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
import { ApplyAddons } from "../phases/apply-addons.js";
import { ConfigureEtcd } from "../phases/configure-etcd.js";
import { Connect } from "../phases/connect.js";
import { EtcdAuth } from "../phases/etcd-auth.js";
import { EtcdMembers } from "../phases/etcd-members.js";
import { GatherFacts } from "../phases/gather-facts.js";
import { InstallPackages } from "../phases/install-packages.js";
import { NodePreflight } from "../phases/node-preflight.js";
import { PreparePki } from "../phases/prepare-pki.js";
import { ReportVersions } from "../phases/report-versions.js";
import { SavePki } from "../phases/save-pki.js";
import { SnapshotBeforeChange } from "../phases/snapshot-before-change.js";
import { StartEtcd } from "../phases/start-etcd.js";
import { StartServices } from "../phases/start-services.js";
import { UploadFiles } from "../phases/upload-files.js";
import { ValidateHosts } from "../phases/validate-hosts.js";
import { VerifyApi } from "../phases/verify-api.js";
import { VerifyEtcd } from "../phases/verify-etcd.js";
import { VerifyIngress } from "../phases/verify-ingress.js";
import { VerifyNodes } from "../phases/verify-nodes.js";
import { WriteEtcdAccess } from "../phases/write-etcd-access.js";
import { checkResolved } from "../plan/load.js";
import type { Cluster } from "../spec/defaults.js";
import { type Resolver, resolveHosts, systemResolver } from "../spec/resolve.js";
import { unresolvedHosts } from "../spec/rules.js";
import { connectSsh } from "../transport/ssh.js";

/** The phases of `up`, in the order they run. */
export const UP_PHASES: readonly Phase<DeployContext>[] = [
  PreparePki,
  Connect,
  GatherFacts,
  ValidateHosts,
  NodePreflight,
  SavePki,
  SnapshotBeforeChange,
  InstallPackages,
  UploadFiles,
  ConfigureEtcd,
  StartEtcd,
  EtcdMembers,
  VerifyEtcd,
  EtcdAuth,
  WriteEtcdAccess,
  StartServices,
  VerifyApi,
  ReportVersions,
  VerifyNodes,
  ApplyAddons,
  VerifyIngress,
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

/**
 * Hosts named by DNS get their addresses once, before anything else; then
 * the checks that needed them run, and a failure stops the run here.
 */
export async function resolveNames(
  cluster: Cluster,
  options: DeployOptions,
  report: Reporter,
  resolver: Resolver,
) {
  const named = unresolvedHosts(cluster);
  if (named.length === 0) return cluster;
  const title = "Resolve host names";
  report.phase(title);
  const resolved = await resolveHosts(cluster, resolver);
  if (resolved.unresolved.length > 0) {
    throw new MultiHostError(
      title,
      resolved.unresolved.map(
        (u) =>
          new HostError(u.host.name, title, `cannot resolve ${u.host.address}: ${u.reason}`, {
            hint: "check the name in DNS or /etc/hosts on this machine, or give the host's IP address in the spec",
          }),
      ),
    );
  }
  for (const h of resolved.cluster.hosts.filter((h) => named.some((n) => n.name === h.name)))
    report.host(h.name, `${h.address} is ${h.ip}`);
  checkResolved(resolved.cluster, options.specFile ?? "the spec");
  return resolved.cluster;
}

/** Runs every phase of `up` against `cluster`, with the state directory locked. */
export async function up(
  spec: Cluster,
  stateDir: string,
  options: DeployOptions,
  report: Reporter,
  connect: Connector = sshConnector,
  resolver: Resolver = systemResolver,
): Promise<UpResult> {
  const started = Date.now();
  const cluster = await resolveNames(spec, options, report, resolver);
  const ctx = new DeployContext({ cluster, stateDir, pkiDir: pkiDirOf(stateDir), options, report, connect });
  const command = `kubeha up${options.dryRun ? " --dry-run" : ""}`;
  await withStateLock(stateDir, command, () => runPhases(UP_PHASES, ctx));
  return { changes: ctx.changes, seconds: (Date.now() - started) / 1000 };
}
