/**
 * Snapshot etcd before a change to it: when this run adds or removes a
 * member, or replaces the etcd binary on a member that holds data, a
 * healthy member takes a snapshot first and keeps it (`pre-up-*` in the
 * snapshot directory, the newest few kept), so a change gone wrong can be
 * undone with `kubeha etcd restore`. Without a healthy member there is
 * nothing consistent to save; the run goes on and says so.
 */
import { sha256 } from "../core/hash.js";
import { ETCD_SNAPSHOT_DIR, UPLOADED_ETCD } from "../core/host-paths.js";
import { shq } from "../core/shell.js";
import type { DeployContext, DeployHost } from "../deploy/context.js";
import { etcdActive } from "../deploy/etcd-cluster.js";
import type { Phase } from "../deploy/runner.js";
import { etcdctl } from "../etcd/etcdctl.js";
import { compactTime } from "../etcd/snapshot-file.js";
import { saveCommand } from "../etcd/snapshot-host.js";
import { DEFAULTS } from "../spec/defaults.js";

/** Why this run changes etcd, or undefined when it does not. */
export function etcdChange(ctx: DeployContext): string | undefined {
  const members = ctx.etcdMembers();
  const live = ctx.liveMembers;
  if (!live) return undefined;
  const want = members.map((m) => m.spec.name).sort();
  const have = live.map((m) => m.name).sort();
  if (JSON.stringify(want) !== JSON.stringify(have))
    return `the members change from [${have.join(", ")}] to [${want.join(", ")}]`;
  const binary = (h: DeployHost) => {
    const want = h.desired?.find((f) => f.path === UPLOADED_ETCD);
    const have = h.facts?.files.get(UPLOADED_ETCD);
    return want && have && h.facts?.etcdHasData && sha256(want.content) !== have.sha256;
  };
  const upgraded = members.filter(binary).map((m) => m.spec.name);
  if (upgraded.length > 0) return `the etcd binary changes on ${upgraded.join(", ")}`;
  return undefined;
}

export const SnapshotBeforeChange: Phase<DeployContext> = {
  title: "Snapshot etcd before changing it",
  shouldRun: (ctx) => etcdChange(ctx) !== undefined,
  async run(ctx) {
    const why = etcdChange(ctx) as string;
    const candidates = ctx.etcdMembers().filter(etcdActive);
    let via: DeployHost | undefined;
    for (const host of candidates) {
      if ((await etcdctl(ctx.transport(host), "endpoint health")).code === 0) {
        via = host;
        break;
      }
    }
    if (!via) {
      ctx.report.info(`${why}, but no member is healthy: no snapshot taken`);
      return;
    }
    const keep = ctx.cluster.etcd.snapshots?.keep ?? DEFAULTS.etcdSnapshots.keep;
    const file = `${ETCD_SNAPSHOT_DIR}/pre-up-${compactTime(new Date())}.db`;
    await ctx.change(via, `take a snapshot to ${file} (${why})`, async () => {
      const t = ctx.transport(via as DeployHost);
      const r = await t.exec(
        `${saveCommand(`${file}.tmp`)} && mv ${shq(`${file}.tmp`)} ${shq(file)} && ls -1t ${ETCD_SNAPSHOT_DIR}/pre-up-*.db | tail -n +${keep + 1} | xargs -r rm -f --`,
        { timeoutMs: 600_000 },
      );
      if (r.code !== 0)
        ctx.report.host(
          via?.spec.name ?? "",
          `the snapshot failed (${(r.stderr || r.stdout).trim().split("\n").pop()}); going on`,
        );
    });
  },
};
