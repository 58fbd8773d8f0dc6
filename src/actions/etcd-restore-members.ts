/**
 * The etcd steps of a restore on the members: each restored from the same
 * snapshot (uploaded and checked, its data directory moved aside, never
 * deleted), then all started together and compared by their key-space hashes.
 */

import { HostError } from "../core/errors.js";
import { ETCD_DATA_DIR, ETCD_RESTORE_DIR, ETCD_RESTORED_MARKER, Unit } from "../core/host-paths.js";
import { shq } from "../core/shell.js";
import { sleep } from "../core/wait.js";
import type { DeployHost } from "../deploy/context.js";
import { waitHealthy } from "../deploy/etcd-cluster.js";
import { clearPending, must, writeFile } from "../deploy/remote.js";
import type { Phase } from "../deploy/runner.js";
import { etcdctl, parseEndpointStatus, parseHashKv } from "../etcd/etcdctl.js";
import { compactTime } from "../etcd/snapshot-file.js";
import { SNAPSHOT_TOOL } from "../etcd/snapshot-host.js";
import { clientUrl, peerUrl } from "../etcd/urls.js";
import { etcd } from "../services/etcd.js";
import { owedAction } from "../services/service.js";
import { REVISION_BUMP, type RestoreContext } from "./etcd-restore-context.js";

const HASHKV_TRIES = 10;

/** Restores one member: the snapshot uploaded and checked, the data directory moved aside, etcd's restore into it. */
async function restoreMember(ctx: RestoreContext, host: DeployHost): Promise<void> {
  const t = () => ctx.transport(host);
  const token = ctx.record?.token ?? "<new token>";
  const found = (
    await t().exec(
      `echo "restored=$(cat ${ETCD_RESTORED_MARKER} 2>/dev/null)"; [ -d ${ETCD_DATA_DIR}/member ] && echo member=yes`,
    )
  ).stdout;
  if (found.includes(`restored=${token}\n`) && found.includes("member=yes")) {
    ctx.report.host(host.spec.name, "already restored from this snapshot (an earlier run)");
    return;
  }
  const file = `${ETCD_RESTORE_DIR}/snapshot.db`;
  const mb = (ctx.snapshot.db.length / 1e6).toFixed(1);
  await ctx.change(host, `upload the snapshot to ${file} (${mb} MB)`, async () => {
    await must(t(), `mkdir -p -m 0700 ${ETCD_RESTORE_DIR}`);
    await writeFile(t(), file, ctx.snapshot.db, 0o600);
    await must(t(), `echo '${ctx.snapshot.sha256}  ${file}' | sha256sum -c --quiet`);
  });
  const aside = `${ETCD_DATA_DIR}.before-restore-${compactTime(new Date())}`;
  await ctx.change(host, `move ${ETCD_DATA_DIR} aside to ${aside} (when it holds anything)`, async () => {
    await must(
      t(),
      `if [ -d ${ETCD_DATA_DIR} ] && [ -n "$(ls -A ${ETCD_DATA_DIR})" ]; then mv ${ETCD_DATA_DIR} ${aside}; fi`,
    );
  });
  const members = ctx
    .etcdMembers()
    .map((m) => `${m.spec.name}=${peerUrl(m.spec)}`)
    .join(",");
  const restoring = `${ETCD_DATA_DIR}.restoring`;
  const args = [
    `snapshot restore ${file}`,
    `--name ${shq(host.spec.name)}`,
    `--initial-cluster ${shq(members)}`,
    `--initial-cluster-token ${shq(token)}`,
    `--initial-advertise-peer-urls ${shq(peerUrl(host.spec))}`,
    `--data-dir ${restoring}`,
  ].join(" ");
  const script = [
    // the half-made product of an interrupted restore is ours to remove; real data never is
    `rm -rf ${restoring}`,
    `T=${SNAPSHOT_TOOL}; BUMP=`,
    `if "$T" snapshot restore --help 2>&1 | grep -q -- --bump-revision; then BUMP="--bump-revision ${REVISION_BUMP} --mark-compacted"; fi`,
    `out=$(ETCDCTL_API=3 "$T" ${args} $BUMP 2>&1) || { echo "$out" | tail -3 >&2; exit 1; }`,
    // an empty data directory (etcd's unit makes one) goes; one with data was moved aside above
    `rmdir ${ETCD_DATA_DIR} 2>/dev/null; if [ -e ${ETCD_DATA_DIR} ]; then echo "${ETCD_DATA_DIR} is not empty" >&2; exit 1; fi`,
    `chmod 0700 ${restoring} && mv ${restoring} ${ETCD_DATA_DIR} && echo ${shq(token)} > ${ETCD_RESTORED_MARKER}`,
    `echo "bump=\${BUMP:+yes}"`,
  ].join("\n");
  await ctx.change(
    host,
    `restore etcd member ${host.spec.name} from the snapshot (cluster token ${token})`,
    async () => {
      const out = await must(t(), script);
      ctx.report.host(
        host.spec.name,
        /bump=yes/.test(out)
          ? `revision moved on by ${REVISION_BUMP.toLocaleString("en")}, older revisions marked compacted`
          : "this etcd's restore cannot move the revision on (no --bump-revision): clients that remember a later revision must start over (the control plane is restarted for that)",
      );
    },
  );
}

export const RestoreMembers: Phase<RestoreContext> = {
  title: "Restore every member from the snapshot",
  async run(ctx) {
    await ctx.onHosts(ctx.etcdMembers(), (host) => restoreMember(ctx, host));
  },
};

/** Start every member together, require all healthy and their hashes equal at one revision. */
export const StartRestoredEtcd: Phase<RestoreContext> = {
  title: "Start etcd and compare the members",
  async run(ctx) {
    const members = ctx.etcdMembers();
    await ctx.onHosts(members, (host) =>
      ctx.change(host, "start etcd", async () => {
        await must(ctx.transport(host), `systemctl start --no-block ${Unit.etcd}`);
        await clearPending(ctx.transport(host), [owedAction(etcd, "restart")]);
      }),
    );
    if (ctx.dryRun) return;
    const via = members[0] as DeployHost;
    await waitHealthy(ctx, members, via);
    const endpoints = members.map((m) => clientUrl(m.spec)).join(",");
    for (let i = 1; ; i++) {
      const status = parseEndpointStatus(
        (await etcdctl(ctx.transport(via), "endpoint status -w json")).stdout,
      )[0];
      const rev = status?.revision ?? 0;
      const r = await etcdctl(ctx.transport(via), `endpoint hashkv --rev=${rev} -w json`, endpoints);
      const hashes = r.code === 0 ? parseHashKv(r.stdout) : [];
      const distinct = new Set(hashes.map((h) => h.hash));
      if (hashes.length === members.length && distinct.size === 1) {
        ctx.report.info(`etcd: ${members.length} members healthy, key-space hashes equal at revision ${rev}`);
        return;
      }
      if (i >= HASHKV_TRIES)
        throw new HostError(
          via.spec.name,
          ctx.phase,
          `the members' key-space hashes differ at revision ${rev}: ${hashes.map((h) => `${h.endpoint} ${h.hash}`).join(", ") || (r.stderr || r.stdout).trim()}`,
          {
            hint: "the members were not all restored from the same snapshot; run the restore again",
          },
        );
      await sleep(500);
    }
  },
};
