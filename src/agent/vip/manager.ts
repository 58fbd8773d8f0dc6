/**
 * The VIP manager: one floating address, held by at most one host at any
 * instant, elected on etcd (never through the API the address fronts).
 *
 * Election. The key /kubeha/vip/NAME holds the holder's host name, attached
 * to its lease of TTL T seconds. A host campaigns only while its local
 * load-balancer frontend has a healthy backend, with a compare-and-swap:
 * "the key does not exist" (first holder, or the old holder's lease expired)
 * or "the key still says released at revision R" (a clean hand-over). A
 * recovered host finds the key held and waits: there is no fail-back.
 *
 * Fencing, and the margin. etcd expires the lease no earlier than T after it
 * processed the newest renewal, and it processed that renewal after the
 * holder sent it (at s). Leader changes only extend leases. Measured on the
 * holder's clock, whose rate may differ from the etcd leader's by ρ (0.1%
 * here, ten times what NTP-disciplined clocks show), nobody else can be
 * elected before s + T·(1 − ρ). The holder removes its address by then:
 *   deadline = s + T·(1 − ρ) − margin, margin = 150 ms, covering
 *   - the fence check's period, FENCE_TICK_MS = 50 ms;
 *   - event-loop lateness: 50 ms (GC pauses of this small heap are a few ms);
 *   - `ip addr del` itself: a process start and one netlink call, ~5 ms measured; 25 ms allowed
 *     (the unit runs the agent at Nice=-10: on a host whose CPU is saturated a
 *     spawn at normal priority was seen to take 300 ms, and `kubeha drill`
 *     measured two holders for that long);
 *   - 25 ms spare.
 * etcd revokes expired leases in a loop every 500 ms, so the next election
 * comes 0 to 500 ms after the expiry: slack this margin does not count on.
 * So with T = 1 s the holder lets go at most 849 ms after its newest
 * acknowledged renewal request was sent. Renewals go out every 100 ms. An
 * etcd leader election (0.5 to 1 s with the lab's timings: raft randomises
 * its timeout up to twice the setting) can outlast the fence; the holder then
 * lets go, keeps its lease, and takes the address back as soon as renewals
 * resume (etcd extends leases across an election): a gap of a few hundred ms
 * on the same host, never a second holder.
 *
 * The kernel as last line. The address is added with valid_lft =
 * preferred_lft = 1 s, refreshed after acknowledged renewals (at most every
 * 250 ms), so a frozen or killed agent cannot keep it for long. How long is
 * the kernel's business: IPv4 lifetimes are checked by one rounded, deferred
 * timer (`node bench/vip-kernel-lifetime.mjs` measures it): 1.00 to 1.26 s
 * after the last refresh on a 6.1 kernel, 1.00 to 2.93 s on the 6.18 VM
 * kernel of this project's CI. Neither is ahead of a 1 s lease, so a host
 * that wins because the old lease expired is only "claiming": it asks the
 * segment whether anyone still answers for the address (ARP duplicate
 * detection, to which the old host's kernel replies even if its agent is
 * frozen), adds the address only once nobody does, and after 3 s of answers
 * gives the key up (never as "released", which would let the next host skip
 * the probe). The unit's ExecStopPost removes the address after any exit of
 * the agent, kill -9 included, before systemd restarts it.
 *
 * Where the VIP should be (placement.ts): away from the etcd leader's host
 * (leader.ts); for the ingress VIPs, balanced over the ready edges (../edge.ts).
 */

import { sleep } from "../../core/wait.js";
import type { EtcdClient } from "../../etcd/client.js";
import { vipKey } from "../../etcd/keyspace.js";
import type { AddressOps } from "./address.js";
import { LeaderAvoidance } from "./leader.js";
import type { Placement } from "./placement.js";

const RHO = 0.001;
const MARGIN_MS = 150;
const FENCE_TICK_MS = 50;
const RENEW_MS = 100;
/** The kernel lifetime is refreshed at most this often. */
const REFRESH_MS = 250;
/** Followers read the election key this often (serializable: see campaign()). */
const POLL_MS = 50;
/** The holder re-reads the key this often to learn of another leader. */
const HOLDER_CHECK_MS = 500;
const ANNOUNCE_EVERY_MS = 5000;
/** Kernel lifetime of the address, seconds (the smallest the kernel takes). */
export const ADDRESS_LIFETIME_S = 1;
/** How long a new holder waits for another machine to stop answering for the address before it gives up. */
const CONFLICT_WAIT_MS = 3000;
/** The value of a key released by a clean hand-over. */
const RELEASED = "";

export interface VipSettings {
  readonly name: string;
  readonly address: string;
  readonly leaseTtlSeconds: number;
}

export type VipEvent = Record<string, unknown> & { kind: string };

export class VipManager {
  readonly settings: VipSettings;
  private readonly etcd: EtcdClient;
  private readonly host: string;
  private readonly ops: AddressOps;
  private readonly healthy: () => boolean;
  private readonly placement: Placement;
  private readonly log: (e: VipEvent) => void;

  /** "claiming": won the key after an expired lease, probing whether another machine still answers for the address. */
  private role: "follower" | "claiming" | "holder" = "follower";
  private lease: bigint | undefined;
  private keepAlive: { send(): void; close(): void } | undefined;
  /** performance.now() when the newest acknowledged renewal (or the grant) was sent. */
  private lastAck = 0;
  private lastSent = 0;
  private lastRefresh = 0;
  private lastKeyCheck = 0;
  private lastAnnounce = 0;
  private busy = false;
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];
  /** Address changes run one after another, so a late refresh can never re-add a released address. */
  private addressQueue: Promise<void> = Promise.resolve();

  transitions = 0;
  lastTransition = 0;

  constructor(
    settings: VipSettings,
    deps: {
      etcd: EtcdClient;
      host: string;
      ops: AddressOps;
      healthy: () => boolean;
      /** Whether the etcd client's first endpoint is this host's own member. */
      ownMember?: boolean;
      /** Where the VIP should be; default: away from the etcd leader's host (leader.ts). */
      placement?: Placement;
      log: (e: VipEvent) => void;
    },
  ) {
    this.settings = settings;
    this.etcd = deps.etcd;
    this.host = deps.host;
    this.ops = deps.ops;
    this.healthy = deps.healthy;
    this.placement = deps.placement ?? new LeaderAvoidance(deps.etcd, deps.ownMember ?? false);
    this.log = (e) => deps.log({ vip: settings.name, address: settings.address, ...e });
  }

  get key(): string {
    return vipKey(this.settings.name);
  }

  get isHolder(): boolean {
    return this.role === "holder";
  }

  /** While holding: ms since the newest acknowledged lease renewal was sent (the fence's age). */
  get leaseAgeMs(): number | undefined {
    return this.role === "holder" ? Math.round(performance.now() - this.lastAck) : undefined;
  }

  /** The instant (performance.now()) past which the holder must not hold the address. */
  private get deadline(): number {
    return this.lastAck + this.settings.leaseTtlSeconds * 1000 * (1 - RHO) - MARGIN_MS;
  }

  /** Removes an address left behind by an earlier run, then starts campaigning and guarding. */
  async start(): Promise<void> {
    await this.ops.release();
    this.timers.push(setInterval(() => this.guard(), FENCE_TICK_MS));
    this.timers.push(setInterval(() => void this.step(), POLL_MS));
  }

  /** SIGTERM: the address goes first, then the key is released and the lease revoked. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    if (this.role === "holder") await this.resign("the agent is stopping");
    else {
      this.role = "follower"; // a claim in progress ends here, before it could add the address
      this.dropLease();
      await this.address(() => this.ops.release());
    }
  }

  private address(op: () => Promise<void>): Promise<void> {
    this.addressQueue = this.addressQueue.then(op).catch((err: Error) => {
      this.log({ kind: "vip-address-error", error: err.message });
    });
    return this.addressQueue;
  }

  /** Runs every FENCE_TICK_MS whatever else is pending: the fence, renewals, announcements. */
  private guard(): void {
    const now = performance.now();
    if (this.role === "follower") {
      // a fenced host keeps renewing the lease it kept, to learn whether it still holds the key
      if (this.lease !== undefined && now - this.lastSent >= RENEW_MS) {
        this.lastSent = now;
        this.keepAlive?.send();
      }
      return;
    }
    if (now >= this.deadline) {
      this.stepDown(`no lease renewal acknowledged for ${Math.round(now - this.lastAck)} ms (fence)`, true);
      return;
    }
    if (now - this.lastSent >= RENEW_MS) {
      this.lastSent = now;
      this.keepAlive?.send();
    }
    if (this.role === "holder" && now - this.lastAnnounce >= ANNOUNCE_EVERY_MS) {
      this.lastAnnounce = now;
      this.ops.announce();
    }
  }

  /** One step of the slower loop: campaign as a follower, watch health and the key as the holder. */
  private async step(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      if (this.role === "holder") {
        if (!this.healthy()) return await this.resign("no healthy backend behind this host's frontend");
        if (performance.now() - this.lastKeyCheck >= HOLDER_CHECK_MS) {
          this.lastKeyCheck = performance.now();
          const kv = await this.etcd.get(this.key).catch(() => "unknown" as const);
          if (kv !== "unknown" && this.role === "holder" && kv?.lease !== this.lease)
            this.stepDown(`etcd names ${kv?.value || "no one"} as holder`);
          else {
            const why = await this.placement.handOver();
            if (why) await this.resign(why);
          }
        }
      } else if (this.healthy()) {
        await this.campaign();
      } else if (this.lease !== undefined) {
        await this.releaseKey(); // fenced, then unhealthy: let a healthy host have the key
      }
    } catch (err) {
      this.log({ kind: "vip-etcd-error", error: (err as Error).message });
    } finally {
      this.busy = false;
    }
  }

  private async campaign(): Promise<void> {
    // without a lease, a poll (20 a second on every candidate) is a serializable read from the member the
    // client is on, not a round through the raft leader: a stale answer only delays a claim or makes it
    // fail, since the compare-and-swap below decides; with a kept lease the read is linearizable
    const kv = await this.etcd.get(this.key, { serializable: this.lease === undefined });
    if (this.lease !== undefined) {
      // fenced earlier with the lease kept: take the address back if the key is still ours and renewals are fresh
      if (kv?.lease === this.lease && performance.now() < this.deadline)
        return await this.acquire(0, "renewals resumed");
      if (kv?.lease !== this.lease) this.dropLease();
      return;
    }
    if (kv && kv.value !== RELEASED) {
      this.placement.held();
      return; // held by someone: wait, no fail-back
    }
    if (await this.placement.yieldVacancy()) return;
    const lease = await this.grant();
    const won = await this.etcd.txn(
      [
        kv
          ? { key: this.key, target: "mod", equals: kv.modRevision }
          : { key: this.key, target: "create", equals: 0n },
      ],
      [{ put: this.key, value: this.host, lease }],
    );
    if (!won.succeeded || this.stopped) {
      this.dropLease();
      return;
    }
    const t0 = performance.now();
    this.lastKeyCheck = t0;
    if (!kv) {
      // the old holder's lease expired: whoever held the address may still answer for it (a frozen agent)
      this.role = "claiming";
      if (!(await this.addressFree(t0))) {
        if (this.role !== "claiming") return; // fenced or stopped meanwhile
        // not "released": that would let the next host skip the probe; the key goes with the lease
        this.role = "follower";
        this.dropLease();
        this.log({ kind: "vip-conflict", reason: "another machine keeps answering ARP for the address" });
        return;
      }
    }
    await this.acquire(t0, kv ? "a clean hand-over" : "no holder (first, or the old lease expired)");
  }

  /** Probes until no other machine answers for the address (true), for at most CONFLICT_WAIT_MS. */
  private async addressFree(since: number): Promise<boolean> {
    let error = "";
    while (this.role === "claiming" && performance.now() - since <= CONFLICT_WAIT_MS) {
      const claimed = await this.ops.claimedElsewhere().catch((err: Error) => {
        if (err.message !== error) this.log({ kind: "vip-probe-error", error: err.message });
        error = err.message;
        return true; // unknown counts as taken
      });
      if (!claimed) return true;
      await sleep(50);
    }
    return false;
  }

  /** Adds the address and announces it, unless the host stopped being the holder meanwhile. */
  private async acquire(since: number, after: string): Promise<void> {
    this.role = "holder";
    await this.address(async () => {
      if (this.role === "holder") await this.ops.hold(ADDRESS_LIFETIME_S);
    });
    if (this.role !== "holder") return;
    this.ops.announce();
    this.lastAnnounce = performance.now();
    setTimeout(() => this.role === "holder" && this.ops.announce(), 200).unref();
    this.transition("vip-acquired", {
      after,
      ...(since > 0 && { probeMs: Math.round(performance.now() - since) }),
    });
  }

  /** A new lease with its keep-alive stream; acknowledgements refresh the fence and the kernel lifetime. */
  private async grant(): Promise<bigint> {
    const sentAt = performance.now();
    const { id } = await this.etcd.leaseGrant(this.settings.leaseTtlSeconds);
    this.lease = id;
    this.lastAck = sentAt;
    this.lastSent = performance.now();
    const open = () => {
      this.keepAlive = this.etcd.keepAlive(
        id,
        (ttl, at) => {
          if (this.lease !== id) return;
          if (ttl <= 0) {
            if (this.role !== "follower") return this.stepDown("etcd says the lease is gone");
            return this.dropLease(false);
          }
          this.lastAck = Math.max(this.lastAck, at);
          if (this.role === "holder" && performance.now() - this.lastRefresh >= REFRESH_MS) {
            this.lastRefresh = performance.now();
            void this.address(async () => {
              if (this.role === "holder" && this.lease === id && performance.now() < this.deadline)
                await this.ops.hold(ADDRESS_LIFETIME_S);
            });
          }
        },
        () => {
          // the stream broke: reopen (on the next endpoint); the fence keeps counting meanwhile
          if (this.lease === id && !this.stopped) setTimeout(() => this.lease === id && open(), 100).unref();
        },
      );
    };
    open();
    return id;
  }

  private dropLease(revoke = true): void {
    const id = this.lease;
    this.lease = undefined;
    this.keepAlive?.close();
    this.keepAlive = undefined;
    if (revoke && id !== undefined) void this.etcd.leaseRevoke(id).catch(() => {});
  }

  /**
   * Lets go at once: the address goes. Fenced, the lease is kept: when
   * renewals resume (an etcd election stalled them; etcd extends leases
   * across one) the host takes the address back at once, since nobody else
   * can have been elected while its lease lived. Deposed, the lease goes.
   */
  private stepDown(reason: string, keepLease = false): void {
    const was = this.role;
    if (was === "follower") return;
    this.role = "follower";
    // a claim cut short never probed to the end: taking it back later must not skip the probe
    if (!keepLease || was === "claiming") this.dropLease();
    void this.address(() => this.ops.release());
    if (was === "holder") this.transition("vip-released", { reason });
  }

  /** A clean hand-over: the address goes first, then the key says released, then the lease is revoked. */
  private async resign(reason: string): Promise<void> {
    if (this.role !== "holder") return;
    this.role = "follower";
    await this.address(() => this.ops.release());
    this.transition("vip-released", { reason });
    await this.releaseKey();
  }

  /** Marks the key released if it is still this host's, then revokes the lease. */
  private async releaseKey(): Promise<void> {
    const lease = this.lease;
    if (lease === undefined) return;
    await this.etcd
      .txn([{ key: this.key, target: "lease", equals: lease }], [{ put: this.key, value: RELEASED }])
      .catch(() => {});
    this.dropLease();
  }

  private transition(kind: string, detail: Record<string, unknown>): void {
    this.transitions++;
    this.lastTransition = Date.now() / 1000;
    this.log({ kind, ...detail });
  }
}
