/**
 * Reconcile etcd membership, one change at a time and never at the cost of
 * quorum. A member in the spec but not in the cluster joins as a learner
 * (which does not count towards quorum), starts with
 * initial-cluster-state=existing, and is promoted once it has caught up with
 * the leader. A member in the cluster but not in the spec is removed only with
 * --allow-member-removal, and only if a quorum of healthy members remains
 * (both refused before any change by phases/validate-hosts.ts; checked again
 * here against the list as it is now). A learner left behind by an
 * interrupted run is picked up, not added twice.
 */
import { HostError } from "../core/errors.js";
import { ETCD_BOOTSTRAP_ENV, Unit } from "../core/host-paths.js";
import { shq } from "../core/shell.js";
import { waitFor } from "../core/wait.js";
import type { DeployContext, DeployHost } from "../deploy/context.js";
import { etcdActive, liveMemberOf, refuseRemoval, strangers, waitHealthy } from "../deploy/etcd-cluster.js";
import { clearPending, must, writeFile } from "../deploy/remote.js";
import type { Phase } from "../deploy/runner.js";
import { etcdctl, leaderEndpoint, type Member, memberList } from "../etcd/etcdctl.js";
import { peerUrl } from "../etcd/urls.js";
import { renderBootstrapEnv } from "../render/etcd-unit.js";
import { etcd } from "../services/etcd.js";
import { owedAction } from "../services/service.js";

const PROMOTE_TIMEOUT_MS = 90_000;
const RECONFIG_TIMEOUT_MS = 30_000;

export const EtcdMembers: Phase<DeployContext> = {
  title: "Reconcile etcd members",
  async run(ctx) {
    const members = ctx.etcdMembers();
    const via = members.find((m) => m.facts?.etcdHasData || etcdActive(m));
    if (!via || (ctx.dryRun && !etcdActive(via))) return;
    let live = await memberList(ctx.transport(via));
    if (!live)
      throw new HostError(via.spec.name, ctx.phase, "cannot list etcd members", {
        hint: "check etcd on the members with `journalctl -u etcd`",
      });

    const leaving = strangers(live, members);
    refuseRemoval(live, leaving, ctx.options.allowMemberRemoval);
    for (const stranger of leaving) {
      await ctx.change(via, `remove etcd member ${stranger.name || stranger.id}`, async () => {
        const r = await etcdctl(ctx.transport(via), `member remove ${stranger.id}`);
        if (r.code !== 0)
          throw new HostError(
            via.spec.name,
            ctx.phase,
            `etcd refused to remove member ${stranger.name || stranger.id}: ${(r.stderr || r.stdout).trim()}`,
            {
              hint: "check the cluster with `etcdctl member list` and `endpoint health`; a re-run tries again",
            },
          );
      });
      const host = ctx.hosts.find((h) => h.spec.name === stranger.name);
      if (host?.transport) {
        await ctx.change(host, "stop and disable etcd (its data stays in place)", async () => {
          await must(ctx.transport(host), `systemctl disable --now ${Unit.etcd}`);
        });
      }
      live = live.filter((m) => m.id !== stranger.id);
    }

    for (const host of members) {
      const found = liveMemberOf(live, host);
      if (found && !found.isLearner) continue;
      await join(ctx, host, found, live, via);
      live = (await memberList(ctx.transport(via))) ?? live;
    }
  },
};

async function join(
  ctx: DeployContext,
  host: DeployHost,
  existing: Member | undefined,
  live: readonly Member[],
  via: DeployHost,
): Promise<void> {
  const t = ctx.transport(via);
  const listedId = async () =>
    (await memberList(t))?.find((m) => m.peerUrls.includes(peerUrl(host.spec)))?.id;
  let id = existing?.id;
  if (!existing) {
    await ctx.change(host, "add to etcd as a learner", async () => {
      // etcd refuses reconfiguration until every member has been connected for a few seconds (strict reconfig check)
      let last = "";
      const added = await waitFor(
        async () => {
          const r = await etcdctl(
            t,
            `member add ${shq(host.spec.name)} --peer-urls=${shq(peerUrl(host.spec))} --learner`,
          );
          last = (r.stderr || r.stdout).trim().split("\n").at(-1) ?? "";
          id = r.stdout.match(/Member ([0-9a-f]+) added/)?.[1];
          if (id) return true;
          // an add that went through although its answer was lost: the member is listed already
          id = await listedId();
          // anything else (unhealthy cluster, not enough started members, a timeout) is retried
          return id !== undefined || /permission denied/.test(r.stderr);
        },
        RECONFIG_TIMEOUT_MS,
        1000,
      );
      if (!added || !id) throw new HostError(host.spec.name, ctx.phase, `member add failed: ${last}`);
    });
  }
  const peers = [
    ...live
      .filter((m) => m.name && m.name !== host.spec.name)
      .map((m) => ({ name: m.name, url: m.peerUrls[0] ?? "" })),
    { name: host.spec.name, url: peerUrl(host.spec) },
  ];
  const env = renderBootstrapEnv(ctx.cluster, peers, "existing");
  await ctx.change(host, "start etcd as a learner (initial-cluster-state=existing)", async () => {
    await writeFile(ctx.transport(host), ETCD_BOOTSTRAP_ENV, env, 0o644);
    await must(ctx.transport(host), `systemctl start --no-block ${Unit.etcd}`);
    await clearPending(ctx.transport(host), [owedAction(etcd, "restart")]);
  });
  await ctx.change(host, "promote from learner to voting member once caught up", async () => {
    const memberId = id ?? (await listedId());
    if (!memberId)
      throw new HostError(host.spec.name, ctx.phase, "its learner entry vanished from the member list");
    // sent to the leader: etcd 3.4 fails a promote forwarded by a follower when auth is on (etcd-io/etcd#20757)
    const voters = live.filter((m) => !m.isLearner).flatMap((m) => m.clientUrls.slice(0, 1));
    const promoted = await waitFor(
      async () => {
        const leader = await leaderEndpoint(t, voters);
        return (await etcdctl(t, `member promote ${memberId}`, leader)).code === 0;
      },
      PROMOTE_TIMEOUT_MS,
      1000,
    );
    if (!promoted) {
      throw new HostError(
        host.spec.name,
        ctx.phase,
        `learner did not catch up within ${PROMOTE_TIMEOUT_MS / 1000} s`,
        {
          hint: `check \`journalctl -u etcd\` on ${host.spec.name}; a re-run continues the join`,
        },
      );
    }
  });
  const all = ctx
    .etcdMembers()
    .filter((m) => m === host || live.some((l) => l.name === m.spec.name && !l.isLearner));
  await waitHealthy(ctx, all, via);
}
