/**
 * `kubeha etcd restore`: for the loss of etcd's quorum. It is `up` with the
 * etcd phases replaced by a restore, in a fixed order printed first:
 * verify the snapshot (before anything stops); reach every host and refuse
 * while a quorum still answers; put the spec's files in place (so replaced
 * hosts, with new names or addresses, get their packages, certificates and
 * units); stop every apiserver, then every member; move each data directory
 * aside (never deleted); restore every member from the same file with a new
 * cluster token and the spec's members, bumping the revision where etcd can;
 * start etcd and require every member healthy with equal hashes; start the
 * apiservers one at a time and restart controller-manager, scheduler and
 * kubelets, whose caches would otherwise be ahead of etcd.
 *
 * The restore is recorded in the state directory until it finishes, with its
 * cluster token, so an interrupted run given the same snapshot carries on:
 * members already restored from it (their marker names the token) are not
 * restored again, and the quorum it brought back does not make it refuse.
 */
import { existsSync, readFileSync, renameSync, rmSync } from "node:fs";
import { ExpectedExit } from "../core/errors.js";
import { writeFileAtomic } from "../core/files.js";
import { ETCD_DATA_DIR, ETCD_RESTORE_DIR, Unit } from "../core/host-paths.js";
import { withStateLock } from "../core/lock.js";
import { pkiDirOf } from "../core/state-dir.js";
import type { Connector, DeployHost, Reporter } from "../deploy/context.js";
import { must } from "../deploy/remote.js";
import { type Phase, runPhases } from "../deploy/runner.js";
import { etcdctl } from "../etcd/etcdctl.js";
import { bundlePathOf, type VerifiedSnapshot } from "../etcd/snapshot-file.js";
import { peerUrl } from "../etcd/urls.js";
import { ConfigureEtcd } from "../phases/configure-etcd.js";
import { Connect } from "../phases/connect.js";
import { EtcdAuth } from "../phases/etcd-auth.js";
import { GatherFacts } from "../phases/gather-facts.js";
import { InstallPackages } from "../phases/install-packages.js";
import { NodePreflight } from "../phases/node-preflight.js";
import { PreparePki } from "../phases/prepare-pki.js";
import { SavePki } from "../phases/save-pki.js";
import { StartServices } from "../phases/start-services.js";
import { UploadFiles } from "../phases/upload-files.js";
import { ValidateHosts } from "../phases/validate-hosts.js";
import { VerifyApi } from "../phases/verify-api.js";
import { VerifyEtcd } from "../phases/verify-etcd.js";
import { WriteEtcdAccess } from "../phases/write-etcd-access.js";
import { openBundle, writeFilesUnder } from "../pki/bundle.js";
import { clusterMarkerIfAny } from "../pki/fingerprint.js";
import { apiserver, controllerManager, scheduler } from "../services/control-plane.js";
import { kubelet } from "../services/node.js";
import type { HostService } from "../services/service.js";
import type { Cluster } from "../spec/defaults.js";
import {
  REVISION_BUMP,
  RestoreContext,
  type RestoreOptions,
  recordPath,
  restoreInProgress,
} from "./etcd-restore-context.js";
import { RestoreMembers, StartRestoredEtcd } from "./etcd-restore-members.js";
import { sshConnector } from "./up.js";

/** The steps, as printed before anything happens. */
export function restorePlan(cluster: Cluster, snapshot: VerifiedSnapshot): string[] {
  const m = snapshot.manifest;
  const members = cluster.hosts.filter((h) => h.roles.includes("etcd"));
  const cps = apiserver.hosts(cluster).map((h) => h.name);
  return [
    `verify the snapshot ${snapshot.path}: etcd's hash and ${m ? "the manifest's size and SHA-256 (done)" : "no manifest beside it (etcd's hash checked; done)"}`,
    "check the state's etcd CA against the snapshot's: a state without a PKI takes the sealed bundle's (with the passphrase)",
    "reach every host of the spec; refuse while a quorum of etcd answers (unless --force)",
    "put the spec's packages, certificates and units on every host (replaced hosts too)",
    `stop every kube-apiserver (${cps.join(", ") || "none"}), then every etcd member (${members.map((h) => h.name).join(", ")})`,
    `move each member's data directory aside: ${ETCD_DATA_DIR}.before-restore-<time> (never deleted)`,
    `restore every member from the same snapshot with a new cluster token and the spec's members (${members.map((h) => `${h.name}=${peerUrl(h)}`).join(", ")}), the revision moved on by ${REVISION_BUMP.toLocaleString("en")} where the hosts' restore tool can (etcdutl's --bump-revision; where it cannot, as etcd 3.4's, the revision stays and the apiservers, controllers and kubelets are restarted so no cache is ahead of etcd)`,
    "start etcd; require every member healthy and their key-space hashes (hashkv) equal",
    "start the apiservers one at a time, then restart controller-manager, scheduler and the kubelets",
    "print status",
  ];
}

/** The PKI the restore uses is the snapshot's: from the state, or from the bundle when the state has none. */
const CheckPki: Phase<RestoreContext> = {
  title: "Check the PKI against the snapshot",
  async run(ctx) {
    const want = ctx.snapshot.manifest?.etcdCa;
    const pki = pkiDirOf(ctx.stateDir);
    const have = clusterMarkerIfAny(pki);
    if (have && (!want || have === want)) {
      ctx.report.info(
        want ? "the state's etcd CA is the snapshot's" : "no manifest: the state's PKI is used as it is",
      );
      return;
    }
    const bundle = bundlePathOf(ctx.snapshot.path);
    const why = have
      ? `the state's etcd CA (${have.slice(0, 16)}…) is not the snapshot's (${want?.slice(0, 16)}…)`
      : "the state directory has no PKI";
    if (have && !ctx.restore.replacePki)
      throw new ExpectedExit(`${why}: the restored cluster would not trust these certificates`, {
        code: "PKI_MISMATCH",
        hint: "give --state of the snapshot's cluster, or --replace-pki with the passphrase to take the PKI from the snapshot's bundle (the state's PKI is moved aside, not deleted)",
      });
    if (!existsSync(bundle) || !ctx.restore.passphrase)
      throw new ExpectedExit(
        `${why}, and ${existsSync(bundle) ? "no passphrase was given to open" : "there is no"} PKI bundle beside the snapshot`,
        {
          code: "PKI_MISMATCH",
          hint: existsSync(bundle)
            ? "give the passphrase (--passphrase-file or KUBEHA_SNAPSHOT_PASSPHRASE)"
            : "give --state of the snapshot's cluster; new certificates would make an unusable cluster",
        },
      );
    const files = openBundle(readFileSync(bundle), ctx.restore.passphrase);
    if (ctx.dryRun) {
      ctx.report.info(`would take the PKI from ${bundle} (${files.length} files)`);
      return;
    }
    if (have) renameSync(pki, `${pki}.replaced-${Date.now()}`);
    writeFilesUnder(pki, files);
    ctx.pkiDir = pki;
    ctx.report.info(
      `took the PKI from ${bundle} (${files.length} files)${have ? `; the old one is in ${pki}.replaced-*` : ""}`,
    );
  },
};

/** Refuse while a quorum answers, unless --force or this continues an unfinished restore of the same snapshot. */
const RefuseHealthyQuorum: Phase<RestoreContext> = {
  title: "Check that etcd has lost its quorum",
  async run(ctx) {
    // membership is rebuilt from the spec: the live list (with replaced hosts in it) is not reconciled
    ctx.liveMembers = undefined;
    const record = restoreInProgress(ctx.stateDir);
    if (record && record.sha256 !== ctx.snapshot.sha256 && !ctx.restore.force)
      throw new ExpectedExit(
        `a restore from ${record.snapshot} started at ${record.startedAt} has not finished`,
        {
          code: "REFUSED",
          hint: `run it again with --from ${record.snapshot} to finish it, or --force to restore from this snapshot instead`,
        },
      );
    if (record?.sha256 === ctx.snapshot.sha256) {
      ctx.record = record;
      ctx.report.info(`continues the restore started at ${record.startedAt} (cluster token ${record.token})`);
      return;
    }
    const members = ctx.etcdMembers();
    const healthy: string[] = [];
    await Promise.all(
      members.map(async (m) => {
        if ((await etcdctl(ctx.transport(m), "endpoint health")).code === 0) healthy.push(m.spec.name);
      }),
    );
    if (healthy.length === 0) {
      ctx.report.info(`no member reaches a quorum (${members.length} asked)`);
      return;
    }
    const msg = `etcd has a quorum: ${healthy.sort().join(", ")} answer${healthy.length === 1 ? "s" : ""} a quorum read`;
    if (!ctx.restore.force)
      throw new ExpectedExit(`${msg}; a restore would throw away everything written since the snapshot`, {
        code: "QUORUM_HEALTHY",
        hint: "to replace lost members while the quorum lives, fix the spec and run `kubeha up`: it adds each new member as a learner and promotes it once caught up. To go back to the snapshot anyway, re-run with --force",
      });
    ctx.report.info(`${msg}; --force: restoring anyway`);
  },
};

/** Record the restore with its token, so an interrupted run carries on with the same one. */
const RecordRestore: Phase<RestoreContext> = {
  title: "Record the restore",
  dryRun: "skip",
  async run(ctx) {
    if (ctx.record) return;
    const stamp = Date.now().toString(36);
    ctx.record = {
      sha256: ctx.snapshot.sha256,
      token: `kubeha-${ctx.cluster.name}-restore-${ctx.snapshot.sha256.slice(0, 8)}-${stamp}`,
      snapshot: ctx.snapshot.path,
      startedAt: new Date().toISOString(),
    };
    writeFileAtomic(recordPath(ctx.stateDir), `${JSON.stringify(ctx.record, null, 2)}\n`, 0o600);
    ctx.report.info(`cluster token ${ctx.record.token}`);
  },
};

/** The facts say `unit` is stopped on `host` now (so StartServices starts it). */
function markStopped(host: DeployHost, unit: string) {
  const f = host.facts;
  if (!f) return;
  host.facts = {
    ...f,
    units: new Map([...f.units].map(([u, s]) => [u, u === unit ? { ...s, active: false } : s])),
  };
}

const StopForRestore: Phase<RestoreContext> = {
  title: "Stop the apiservers, then etcd",
  async run(ctx) {
    const stop = (hosts: readonly DeployHost[], unit: string) =>
      ctx.onHosts(hosts, async (host) => {
        await ctx.change(host, `stop ${unit}`, async () => {
          await must(ctx.transport(host), `systemctl stop ${unit}`);
        });
        markStopped(host, unit);
      });
    const apiUnit = apiserver.unit(ctx.cluster);
    if (apiUnit) await stop(ctx.controlPlane(), apiUnit);
    await stop(ctx.etcdMembers(), Unit.etcd);
  },
};

/** Controllers and kubelets hold caches from before: restart them now the apiservers serve the restored state. */
const RestartControllers: Phase<RestoreContext> = {
  title: "Restart controller-manager, scheduler and kubelets",
  async run(ctx) {
    const restart = (service: HostService) => {
      const unit = service.unit(ctx.cluster);
      if (!unit) return Promise.resolve();
      return ctx.onHosts(ctx.among(service.hosts(ctx.cluster)), (host) =>
        ctx.change(host, `restart ${unit}`, async () => {
          await must(ctx.transport(host), `systemctl restart ${unit}`);
        }),
      );
    };
    for (const service of [controllerManager, scheduler, kubelet]) await restart(service);
  },
};

/** The restore is over: its record goes, the snapshot copies on the members too. */
const FinishRestore: Phase<RestoreContext> = {
  title: "Finish",
  dryRun: "skip",
  async run(ctx) {
    await ctx.onHosts(ctx.etcdMembers(), async (host) => {
      await must(ctx.transport(host), `rm -f ${ETCD_RESTORE_DIR}/snapshot.db`);
    });
    rmSync(recordPath(ctx.stateDir), { force: true });
    ctx.report.info(`etcd restored from ${ctx.snapshot.path}`);
  },
};

/** The phases of a restore, in order (the plan restorePlan prints). */
export const RESTORE_PHASES: readonly Phase<RestoreContext>[] = [
  CheckPki,
  PreparePki,
  Connect,
  GatherFacts,
  RefuseHealthyQuorum,
  ValidateHosts,
  NodePreflight,
  SavePki,
  InstallPackages,
  UploadFiles,
  ConfigureEtcd,
  RecordRestore,
  StopForRestore,
  RestoreMembers,
  StartRestoredEtcd,
  VerifyEtcd,
  EtcdAuth,
  WriteEtcdAccess,
  StartServices,
  RestartControllers,
  VerifyApi,
  FinishRestore,
];

/** Restores the etcd of `cluster` from `snapshot` (verified by the caller), with the state directory locked. */
export async function restore(
  cluster: Cluster,
  stateDir: string,
  snapshot: VerifiedSnapshot,
  options: RestoreOptions,
  report: Reporter,
  connect: Connector = sshConnector,
): Promise<{ seconds: number }> {
  const started = Date.now();
  const ctx = new RestoreContext({
    cluster,
    stateDir,
    pkiDir: pkiDirOf(stateDir),
    options,
    report,
    connect,
    snapshot,
    restore: options,
  });
  await withStateLock(stateDir, `kubeha etcd restore${options.dryRun ? " --dry-run" : ""}`, () =>
    runPhases(RESTORE_PHASES, ctx),
  );
  return { seconds: (Date.now() - started) / 1000 };
}
