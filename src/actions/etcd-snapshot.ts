/**
 * `kubeha etcd snapshot save|list|verify`. Save is a phase list over the
 * read-only cluster context: reach the members (one that is down is fine),
 * pick a healthy member that does not lead when there is one (the leader
 * has the most to do), stream its snapshot here over the transport as bytes,
 * check etcd's own hash, and write the snapshot, its manifest and the sealed
 * PKI bundle, each 0600 in a 0700 directory.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { ExpectedExit, HostError, UsageError } from "../core/errors.js";
import { ensurePrivateDir, writeFileAtomic } from "../core/files.js";
import { sha256 } from "../core/hash.js";
import { version } from "../core/package-info.js";
import { pkiDirOf } from "../core/state-dir.js";
import {
  ClusterContext,
  type ClusterHost,
  type Connector,
  type Reporter,
  readOnlyContext,
} from "../deploy/context.js";
import { type Phase, runPhases } from "../deploy/runner.js";
import { etcdctl, memberList, parseEndpointStatus } from "../etcd/etcdctl.js";
import {
  bundlePathOf,
  checkEtcdHash,
  manifestPathOf,
  type SnapshotManifest,
  snapshotName,
} from "../etcd/snapshot-file.js";
import {
  type HostSnapshot,
  LIST_COMMAND,
  parseHostSnapshots,
  streamSnapshot,
} from "../etcd/snapshot-host.js";
import { filesUnder, MIN_PASSPHRASE, openBundle, sealBundle } from "../pki/bundle.js";
import { clusterMarkerIfAny } from "../pki/fingerprint.js";
import type { Cluster } from "../spec/defaults.js";

/** The passphrase of the PKI bundle: from a file, or from KUBEHA_SNAPSHOT_PASSPHRASE; never from the command line. */
export function readPassphrase(file: string | undefined, env = process.env): string | undefined {
  const raw = file !== undefined ? readFileSync(file, "utf8") : env.KUBEHA_SNAPSHOT_PASSPHRASE;
  if (raw === undefined) return undefined;
  const passphrase = raw.replace(/\r?\n$/, "");
  if (passphrase.length < MIN_PASSPHRASE)
    throw new UsageError(
      `the snapshot passphrase has ${passphrase.length} characters; it needs at least ${MIN_PASSPHRASE}`,
    );
  return passphrase;
}

/** The state's etcd CA fingerprint; the snapshot's manifest names it, so a restore knows which PKI it needs. */
function stateEtcdCa(stateDir: string): string {
  const fingerprint = clusterMarkerIfAny(pkiDirOf(stateDir));
  if (!fingerprint)
    throw new ExpectedExit(
      `${pkiDirOf(stateDir)} has no etcd CA: this is not the state directory of the cluster`,
      {
        hint: "give --state of the directory `kubeha up` used for this cluster",
      },
    );
  return fingerprint;
}

/** A member during a snapshot: reached or not, and what it says of itself. */
interface SnapshotHost extends ClusterHost {
  unreachable?: string;
  healthy?: boolean;
  leads?: boolean;
}

class SnapshotContext extends ClusterContext<SnapshotHost> {
  chosen?: SnapshotHost;
  db?: Buffer;
  manifest?: SnapshotManifest;
}

export interface SaveOptions {
  readonly outDir: string;
  /** Seals the PKI bundle; without one, only the snapshot and its manifest are written. */
  readonly passphrase?: string;
  readonly specFile: string;
  readonly connect: Connector;
  readonly report: Reporter;
  readonly now?: () => Date;
}

/** Reach every member; an unreachable one is noted, not fatal. */
const ReachMembers: Phase<SnapshotContext> = {
  title: "Reach the etcd members",
  async run(ctx) {
    await Promise.all(
      ctx.etcdMembers().map(async (host) => {
        try {
          host.transport = await ctx.connect(host.spec, ctx);
        } catch (err) {
          host.unreachable = (err as Error).message;
          ctx.report.host(host.spec.name, `unreachable: ${host.unreachable}`);
        }
      }),
    );
  },
  async cleanup(ctx) {
    await Promise.all(ctx.hosts.map((h) => h.transport?.close()));
  },
};

/** Pick a healthy member, not the leader when another is healthy. */
const PickMember: Phase<SnapshotContext> = {
  title: "Pick a member",
  async run(ctx) {
    const reached = ctx.etcdMembers().filter((h) => h.transport);
    await Promise.all(
      reached.map(async (host) => {
        const [health, status] = await Promise.all([
          etcdctl(ctx.transport(host), "endpoint health"),
          etcdctl(ctx.transport(host), "endpoint status -w json"),
        ]);
        host.healthy = health.code === 0;
        const s = status.code === 0 ? parseEndpointStatus(status.stdout)[0] : undefined;
        host.leads = s !== undefined && s.leader === s.memberId;
      }),
    );
    const healthy = reached.filter((h) => h.healthy);
    ctx.chosen = healthy.find((h) => !h.leads) ?? healthy[0];
    if (!ctx.chosen)
      throw new ExpectedExit("no etcd member is healthy: a snapshot needs a member that reaches a quorum", {
        hint: "`kubeha status -f FILE` shows what is down; when the quorum is lost for good, restore from an earlier snapshot with `kubeha etcd restore`",
      });
    ctx.report.host(
      ctx.chosen.spec.name,
      `${ctx.chosen.leads ? "leads (no other member is healthy)" : "healthy, not the leader"}: the snapshot comes from here`,
    );
  },
};

/** Stream the snapshot here, check etcd's hash, and gather what the manifest says. */
const TakeSnapshot: Phase<SnapshotContext> = {
  title: "Take the snapshot",
  async run(ctx) {
    const host = ctx.chosen as SnapshotHost;
    const t = ctx.transport(host);
    const started = performance.now();
    const [{ db, status }, members, endpoint] = await Promise.all([
      streamSnapshot(t),
      memberList(t),
      etcdctl(t, "endpoint status -w json"),
    ]);
    const bad = checkEtcdHash(db);
    if (bad)
      throw new HostError(host.spec.name, ctx.phase, `the snapshot streamed from here is damaged: ${bad}`, {
        hint: "run the save again; if it repeats, look at the member with `journalctl -u etcd`",
      });
    const self = endpoint.code === 0 ? parseEndpointStatus(endpoint.stdout)[0] : undefined;
    ctx.db = db;
    ctx.report.host(
      host.spec.name,
      `${(db.length / 1e6).toFixed(1)} MB, revision ${status.revision}, ${status.totalKey} keys, in ${Math.round(performance.now() - started)} ms; etcd's hash checks`,
    );
    ctx.manifest = {
      format: "kubeha-etcd-snapshot/1",
      cluster: ctx.cluster.name,
      takenAt: "",
      takenFrom: host.spec.name,
      file: "",
      size: db.length,
      sha256: sha256(db),
      etcdHashChecked: true,
      etcdHash: status.hash,
      revision: status.revision,
      totalKeys: status.totalKey,
      totalSize: status.totalSize,
      clusterId: self?.clusterId ?? "",
      members: (members ?? []).map((m) => ({ name: m.name, peerUrls: m.peerUrls, clientUrls: m.clientUrls })),
      specSha256: "",
      etcdCa: "",
      versions: { etcd: self?.version ?? "", kubeha: version, kubernetes: ctx.cluster.kubernetes.version },
    };
  },
};

/** Saves a snapshot of `cluster` into `opts.outDir`; returns the path of the `.db` file and its manifest. */
export async function saveSnapshot(
  cluster: Cluster,
  stateDir: string,
  opts: SaveOptions,
): Promise<{ db: string; manifest: SnapshotManifest }> {
  const ctx = new SnapshotContext(
    {
      cluster,
      stateDir,
      report: opts.report,
      connect: opts.connect,
      concurrency: cluster.hosts.length,
      dryRun: false,
    },
    (spec) => ({ spec }),
  );
  // before any host is reached: without the cluster's PKI the snapshot could not be restored usefully
  const etcdCa = stateEtcdCa(stateDir);
  let written: { db: string; manifest: SnapshotManifest } | undefined;
  const WriteFiles: Phase<SnapshotContext> = {
    title: "Write the snapshot",
    async run(ctx) {
      const at = (opts.now ?? (() => new Date()))();
      const base = join(opts.outDir, snapshotName(cluster.name, at));
      const db = `${base}.db`;
      ensurePrivateDir(opts.outDir);
      const bundle = opts.passphrase
        ? sealBundle(filesUnder(pkiDirOf(stateDir)), opts.passphrase)
        : undefined;
      const manifest: SnapshotManifest = {
        ...(ctx.manifest as SnapshotManifest),
        takenAt: at.toISOString(),
        file: `${snapshotName(cluster.name, at)}.db`,
        specSha256: sha256(readFileSync(opts.specFile)),
        etcdCa,
        ...(bundle && { pkiBundle: `${snapshotName(cluster.name, at)}.pki.enc` }),
      };
      writeFileAtomic(db, ctx.db as Buffer, 0o600);
      if (bundle) writeFileAtomic(bundlePathOf(db), bundle, 0o600);
      writeFileAtomic(manifestPathOf(db), `${JSON.stringify(manifest, null, 2)}\n`, 0o600);
      ctx.report.info(`${db}`);
      ctx.report.info(`${manifestPathOf(db)}`);
      ctx.report.info(
        bundle
          ? `${bundlePathOf(db)} (the PKI, sealed with the passphrase)`
          : "no PKI bundle: no passphrase was given",
      );
      written = { db, manifest };
    },
  };
  await runPhases([ReachMembers, PickMember, TakeSnapshot, WriteFiles], ctx);
  return written as { db: string; manifest: SnapshotManifest };
}

/** The snapshots kept on every reachable member (scheduled, and those taken before an `up`). */
export async function hostSnapshots(
  cluster: Cluster,
  stateDir: string,
  connect: Connector,
): Promise<{ snapshots: HostSnapshot[]; unreachable: string[] }> {
  const ctx = readOnlyContext(cluster, stateDir, connect);
  const unreachable: string[] = [];
  const lists = await Promise.all(
    ctx.etcdMembers().map(async (host) => {
      try {
        const t = await connect(host.spec, ctx);
        try {
          return parseHostSnapshots(host.spec.name, (await t.exec(LIST_COMMAND)).stdout);
        } finally {
          await t.close();
        }
      } catch {
        unreachable.push(host.spec.name);
        return [];
      }
    }),
  );
  return { snapshots: lists.flat().sort((a, b) => b.mtime - a.mtime), unreachable };
}

/** Checks that the bundle beside `db` opens with `passphrase`; the number of files it holds. */
export function verifyBundle(db: string, passphrase: string): number {
  return openBundle(readFileSync(bundlePathOf(db)), passphrase).length;
}
