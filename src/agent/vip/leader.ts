/**
 * Keeping the VIP away from the etcd leader's host. Losing the etcd leader
 * costs an etcd election, and the new leader extends every lease by an
 * election timeout: if the VIP holder's host is also the etcd leader, its
 * power-off costs both, about 2.5 s instead of 1.2 s with the lab's timings
 * (measured by bench/vip-failover.mjs). And the leader's own agent would win
 * most elections, its member answering first. So a host whose own member
 * leads lets the others campaign first for LEADER_YIELD_MS after the VIP
 * falls vacant, and campaigns itself only when nobody else did; and a holder
 * whose member an etcd election made the leader hands the VIP over cleanly
 * after REBALANCE_AFTER_MS (a planned move of a few hundred ms instead of a
 * 2.5 s outage at the next failure).
 */
import type { EtcdClient } from "../../etcd/client.js";
import type { Placement } from "./placement.js";

/** What leader avoidance asks etcd: whether the member at an endpoint leads. */
export type LeaderProbe = Pick<EtcdClient, "isLeader">;

/** How long the etcd leader's host leaves a vacant VIP to the other hosts. */
const LEADER_YIELD_MS = 300;
/** A holder whose own member has led etcd this long hands the VIP over (a planned move, ~0.2 s) ... */
const REBALANCE_AFTER_MS = 3000;
/** ... at most this often, so a cluster where only the leader's host is healthy does not flap. */
const REBALANCE_EVERY_MS = 60_000;

export class LeaderAvoidance implements Placement {
  private readonly etcd: LeaderProbe;
  /** Whether the etcd client's first endpoint is this host's own member; without one there is nothing to avoid. */
  private readonly ownMember: boolean;
  /** The clock, in milliseconds (performance.now(); tests pass their own). */
  private readonly now: () => number;
  /** When this host first saw the VIP vacant (0: it is held). */
  private vacantSince = 0;
  /** Since when this holder's own member has led etcd (0: it does not). */
  private leaderSince = 0;
  private lastRebalance = Number.NEGATIVE_INFINITY;

  constructor(etcd: LeaderProbe, ownMember: boolean, now: () => number = () => performance.now()) {
    this.etcd = etcd;
    this.ownMember = ownMember;
    this.now = now;
  }

  private leads(): Promise<boolean> {
    return this.etcd.isLeader(0).catch(() => false);
  }

  /** The VIP is held by someone: the next vacancy starts a new yield. */
  held(): void {
    this.vacantSince = 0;
  }

  /** The VIP is vacant: whether this host should leave it to the others a little longer. */
  async yieldVacancy(): Promise<boolean> {
    const now = this.now();
    this.vacantSince ||= now;
    if (now - this.vacantSince < LEADER_YIELD_MS && this.ownMember && (await this.leads())) return true;
    this.vacantSince = 0;
    return false;
  }

  async handOver(): Promise<string | undefined> {
    return (await this.ledTooLong())
      ? "this host's etcd member leads; handing the VIP to a host whose member does not"
      : undefined;
  }

  /**
   * For the holder: whether its own member has led etcd for REBALANCE_AFTER_MS
   * (an etcd election put the leader here), and no hand-over for that reason
   * happened in the last REBALANCE_EVERY_MS.
   */
  async ledTooLong(): Promise<boolean> {
    if (!this.ownMember) return false;
    const now = this.now();
    if (!(await this.leads())) {
      this.leaderSince = 0;
      return false;
    }
    this.leaderSince ||= now;
    if (now - this.leaderSince < REBALANCE_AFTER_MS || now - this.lastRebalance < REBALANCE_EVERY_MS)
      return false;
    this.lastRebalance = now;
    this.leaderSince = 0;
    return true;
  }
}
