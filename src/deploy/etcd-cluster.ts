/**
 * The etcd cluster as the deploy phases see it: new or running, healthy or
 * not, and how its live members compare with the spec's.
 */
import { ExpectedExit, HostError } from "../core/errors.js";
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

/** Whether live member `m` is `host`'s (by name, or by peer URL for one added without a name yet). */
const isMemberOf = (m: Member, host: DeployHost) =>
  m.name === host.spec.name || m.peerUrls.includes(peerUrl(host.spec));

/** The live members that are not in the spec. */
export const strangers = (live: readonly Member[], members: readonly DeployHost[]): Member[] =>
  live.filter((m) => !members.some((h) => isMemberOf(m, h)));

/** The member `host` is in `live`, if any. */
export const liveMemberOf = (live: readonly Member[], host: DeployHost) =>
  live.find((m) => isMemberOf(m, host));

/**
 * Refuses to remove `leaving` from `live` without --allow-member-removal, and
 * at all when removing them one at a time would leave fewer voting members
 * than a quorum after any removal.
 */
export function refuseRemoval(live: readonly Member[], leaving: readonly Member[], allowed: boolean): void {
  if (leaving.length === 0) return;
  if (!allowed) {
    const names = leaving.map((m) => m.name || m.id).join(", ");
    throw new ExpectedExit(`etcd member${leaving.length > 1 ? "s" : ""} ${names} not in the spec`, {
      code: "MEMBER_REMOVAL_REFUSED",
      hint: "add the host back to the spec, or re-run with --allow-member-removal to remove it from the cluster",
    });
  }
  let voters = live.filter((m) => !m.isLearner);
  for (const member of leaving) {
    const after = voters.filter((m) => m.id !== member.id);
    const { quorum } = etcdQuorum(voters.length);
    if (after.length < quorum) {
      throw new ExpectedExit(
        `removing ${member.name || member.id} would leave ${after.length} voting members, below the quorum of ${quorum}`,
        {
          code: "QUORUM_AT_RISK",
          hint: "bring the missing members back first, or remove fewer members in one run",
        },
      );
    }
    voters = after;
  }
}
