/**
 * The etcd cluster as the deploy phases see it: new or running, healthy or
 * not, and how its live members compare with the spec's.
 */
import { HostError } from "../core/errors.js";
import { Unit } from "../core/host-paths.js";
import { waitFor } from "../core/wait.js";
import { allHealthy, type Member } from "../etcd/etcdctl.js";
import { clientUrl, peerUrl } from "../etcd/urls.js";
import { etcdQuorum } from "../spec/quorum.js";
import type { DeployContext, DeployHost } from "./context.js";
import { unitState } from "./facts.js";

const HEALTHY_TIMEOUT_MS = 60_000;

/** Whether `host`'s etcd member was running when the facts were gathered. */
export const etcdActive = (host: DeployHost) => unitState(host.facts, Unit.etcd).active;

/** Whether no member has data or runs: the cluster is to be bootstrapped. */
export function isNewCluster(ctx: DeployContext): boolean {
  return ctx.etcdMembers().every((h) => !h.facts?.etcdHasData && !etcdActive(h));
}

/** Waits until every member in `members` answers a health check through `via`; fails naming the host to look at. */
export async function waitHealthy(
  ctx: DeployContext,
  members: readonly DeployHost[],
  via: DeployHost,
): Promise<void> {
  if (ctx.dryRun) return;
  const endpoints = members.map((m) => clientUrl(m.spec));
  if (!(await waitFor(() => allHealthy(ctx.transport(via), endpoints), HEALTHY_TIMEOUT_MS))) {
    throw new HostError(
      via.spec.name,
      ctx.phase,
      `etcd did not become healthy on ${endpoints.join(", ")} within ${HEALTHY_TIMEOUT_MS / 1000} s`,
      { hint: "look at `journalctl -u etcd` on the members; a re-run continues from here" },
    );
  }
}

/** The live members that are not in the spec (matched by name or peer URL). */
export function strangers(live: readonly Member[], members: readonly DeployHost[]): Member[] {
  return live.filter(
    (m) => !members.some((h) => m.name === h.spec.name || m.peerUrls.includes(peerUrl(h.spec))),
  );
}

/** The member `host` is in `live`, if any. */
export const liveMemberOf = (live: readonly Member[], host: DeployHost) =>
  live.find((m) => m.name === host.spec.name || m.peerUrls.includes(peerUrl(host.spec)));

/**
 * Why removing `leaving` one at a time from `live` would lose quorum, or
 * undefined when it keeps a quorum of voting members after each removal.
 */
export function removalRisk(live: readonly Member[], leaving: readonly Member[]): string | undefined {
  let voters = live.filter((m) => !m.isLearner);
  for (const member of leaving) {
    const after = voters.filter((m) => m.id !== member.id);
    if (after.length < etcdQuorum(voters.length).quorum)
      return `removing ${member.name || member.id} would leave ${after.length} voting members, below the quorum of ${etcdQuorum(voters.length).quorum}`;
    voters = after;
  }
  return undefined;
}
