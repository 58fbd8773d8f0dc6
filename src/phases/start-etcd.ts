/**
 * Start etcd. A new cluster: every member at once (each waits for a quorum of
 * its peers), then wait until all answer through mTLS. An existing cluster:
 * start stopped members, and restart those whose certificates or unit changed
 * one at a time, waiting for the whole cluster to be healthy after each, so
 * quorum is never at risk. A member with nothing changed is never touched.
 */
import { Unit } from "../core/host-paths.js";
import type { DeployContext, DeployHost } from "../deploy/context.js";
import { etcdActive, isNewCluster, waitHealthy } from "../deploy/etcd-cluster.js";
import { clearPending, must } from "../deploy/remote.js";
import type { Phase } from "../deploy/runner.js";
import { etcd } from "../services/etcd.js";
import { owedAction } from "../services/service.js";

const owed = owedAction(etcd, "restart");

/** `systemctl VERB etcd` on `host`, recorded as a change, clearing the restart it owed. */
const systemctl = (ctx: DeployContext, host: DeployHost, verb: string, what: string) =>
  ctx.onHost(host, () =>
    ctx.change(host, what, async () => {
      await must(ctx.transport(host), `systemctl ${verb} ${Unit.etcd}`);
      await clearPending(ctx.transport(host), [owed]);
    }),
  );

export const StartEtcd: Phase<DeployContext> = {
  title: "Start etcd",
  shouldRun: (ctx) => ctx.etcdMembers().length > 0,
  async run(ctx) {
    const members = ctx.etcdMembers();
    if (isNewCluster(ctx)) {
      await ctx.onHosts(members, (host) =>
        systemctl(ctx, host, "start --no-block", "start etcd (new cluster)"),
      );
      await waitHealthy(ctx, members, members[0] as DeployHost);
      return;
    }
    // members of the running cluster: those with data; newcomers join in the next phase
    const running = members.filter((m) => m.facts?.etcdHasData);
    for (const host of running.filter((m) => !etcdActive(m))) {
      await systemctl(ctx, host, "start --no-block", "start etcd");
    }
    const via = running.find(etcdActive) ?? running[0];
    if (via) await waitHealthy(ctx, running, via);
    for (const host of running.filter((m) => m.owed.has(owed) && etcdActive(m))) {
      await systemctl(ctx, host, "restart", "restart etcd (its certificates or unit changed)");
      await waitHealthy(ctx, running, host);
    }
  },
};
