/**
 * Start etcd. A new cluster: every member at once (each waits for a quorum of
 * its peers), then wait until all answer through mTLS. An existing cluster:
 * start stopped members, and restart those whose certificates or unit changed
 * one at a time, waiting for the whole cluster to be healthy after each, so
 * quorum is never at risk. A member with nothing changed is never touched.
 */
import { HostError } from "../core/errors.js";
import type { DeployContext, DeployHost } from "../deploy/context.js";
import { clearPending, must } from "../deploy/remote.js";
import { allHealthy, waitFor } from "../etcd/etcdctl.js";
import { clientUrl } from "../render/etcd-unit.js";
import { isNewCluster } from "./configure-etcd.js";
import type { Phase } from "./phase.js";

const HEALTHY_TIMEOUT_MS = 60_000;

/** Waits until every member in `members` answers a health check; fails naming the host to look at. */
export async function waitHealthy(
  ctx: DeployContext,
  members: readonly DeployHost[],
  via: DeployHost,
): Promise<void> {
  if (ctx.options.dryRun) return;
  const endpoints = members.map((m) => clientUrl(m.spec));
  if (!(await waitFor(() => allHealthy(ctx.transport(via), endpoints), HEALTHY_TIMEOUT_MS))) {
    throw new HostError(
      via.spec.name,
      ctx.phase,
      `etcd did not become healthy on ${endpoints.join(", ")} within ${HEALTHY_TIMEOUT_MS / 1000} s`,
      {
        hint: "look at `journalctl -u etcd` on the members; a re-run continues from here",
      },
    );
  }
}

export const StartEtcd: Phase = {
  title: "Start etcd",
  async run(ctx: DeployContext) {
    const members = ctx.etcdMembers();
    if (members.length === 0) return;
    if (isNewCluster(ctx)) {
      await ctx.onHosts(members, (host) =>
        ctx.change(host, "start etcd (new cluster)", async () => {
          await must(ctx.transport(host), "systemctl start --no-block etcd");
          await clearPending(ctx.transport(host), ["etcd"]);
        }),
      );
      await waitHealthy(ctx, members, members[0] as DeployHost);
      return;
    }
    // members of the running cluster: those with data; newcomers join in the next phase
    const running = members.filter((m) => m.facts?.etcdHasData);
    for (const host of running.filter((m) => !m.facts?.etcdActive)) {
      await ctx.change(host, "start etcd", async () => {
        await must(ctx.transport(host), "systemctl start --no-block etcd");
        await clearPending(ctx.transport(host), ["etcd"]);
      });
    }
    const via = running.find((m) => m.facts?.etcdActive) ?? running[0];
    if (via) await waitHealthy(ctx, running, via);
    for (const host of running.filter((m) => m.restart.has("etcd") && m.facts?.etcdActive)) {
      await ctx.change(host, "restart etcd (its certificates or unit changed)", async () => {
        await must(ctx.transport(host), "systemctl restart etcd");
        await clearPending(ctx.transport(host), ["etcd"]);
      });
      await waitHealthy(ctx, running, host);
    }
  },
};
