/**
 * The ingress edge in the agent of an edge host: whether the local ingress
 * controller is ready, this edge's registration in etcd, and where the
 * ingress VIPs should be. The VIPs themselves are ordinary VIP managers
 * (vip/manager.ts: lease, fence, ARP probe, gratuitous ARP), gated on
 * `serving` and placed by `placement(i)`. Traffic never passes through the
 * agent: clients reach the controller on the holder directly.
 *
 * Readiness. The controller's health endpoint (Traefik's ping, the lab
 * nginx's /ping) is polled every intervalMs; `fall` failures make the edge
 * unready, `rise` successes (rise > fall) ready again, so a controller
 * reload does not move a VIP; the first success after the agent starts
 * counts at once. A controller that is stopping answers 503 on its ping for
 * a grace time while it still serves, so its VIPs leave before it drains.
 *
 * Registration. A ready edge keeps /kubeha/edge/HOST on a lease of the VIPs'
 * TTL. Going unready, it deletes the key (revokes the lease) first and only
 * then stops serving, so the other edges count it out before its VIPs
 * arrive; a dead edge's key expires with its lease.
 *
 * Placement, for a vacant VIP i (asked at that moment against a fresh read):
 * - balance: an edge holding ⌈VIPs / ready edges⌉ already leaves it to the
 *   others (for OVERFLOW_MS, then takes it anyway: a VIP with no holder is
 *   worse than an unbalanced one). An edge whose VIP key vanished (its lease
 *   expired: it is dead or cut off) is not counted as ready even while its
 *   registration has not expired yet.
 * - preference: VIP i prefers edges[i mod n], which gets PREFER_MS to take it
 *   first; and in the first STARTUP_MS after this agent started, the others
 *   leave a preferred edge that was never ready time to come up.
 * - hand-back: a VIP taken before its preferred edge was ever ready (etcd's
 *   revisions tell: the edge's /kubeha/edge-seen/ key was created after the
 *   holder's put) is handed to it once it is ready and below its share, when
 *   the holder is above its share. With one VIP per edge, a cluster starting
 *   up (or a DaemonSet rolling out unevenly) ends with one VIP on every edge.
 *   An edge that was ready before never gets a VIP back this way.
 * - no fail-back: a VIP that is held stays where it is. With
 *   `rebalanceQuietMs` set, once nothing changed for that long, the most
 *   loaded edge above its share hands one VIP over (to its preferred edge when
 *   that one is below its share), and the next move waits another quiet
 *   period. Each move resets the connections on that VIP.
 */
import { request } from "node:http";
import type { EtcdClient } from "../etcd/client.js";
import { EDGE_PREFIX, EDGE_SEEN_PREFIX, edgeKey, edgeSeenKey, VIP_PREFIX } from "../etcd/keyspace.js";
import type { IngressConfig } from "./config.js";
import type { Placement } from "./vip/placement.js";

/** The others leave a vacant VIP to its preferred edge this long. */
const PREFER_MS = 300;
/** An edge at its share takes a VIP that stayed vacant this long anyway. */
const OVERFLOW_MS = 1000;
/** A newly started agent leaves an unregistered preferred edge this long to come up. */
const STARTUP_MS = 3000;
/** The view of the edges and holders is refreshed this often (hand-back, rebalance and metrics). */
const VIEW_MS = 1000;

/** What etcd says: which edges are ready and who holds each ingress VIP ("" released). */
export interface EdgeView {
  readonly ready: ReadonlySet<string>;
  readonly holders: ReadonlyMap<string, string>;
  /** Each edge that was ever ready, with the revision at which it first was. */
  readonly firstReady: ReadonlyMap<string, bigint>;
  /** Each ingress VIP's key, with the revision at which its holder took it. */
  readonly taken: ReadonlyMap<string, bigint>;
}

const EMPTY_VIEW: EdgeView = {
  ready: new Set(),
  holders: new Map(),
  firstReady: new Map(),
  taken: new Map(),
};

/** One GET of the controller's health endpoint: true on 200 within the timeout. */
export function controllerReady(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(url, { timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once("timeout", () => req.destroy(new Error("timeout")));
    req.once("error", () => resolve(false));
    req.end();
  });
}

export class EdgeCoordinator {
  private readonly config: IngressConfig;
  private readonly etcd: EtcdClient;
  private readonly host: string;
  private readonly log: (e: Record<string, unknown>) => void;
  private readonly now: () => number;
  private readonly probe: () => Promise<boolean>;
  private readonly started: number;

  /** The controller's verdict, with hysteresis. */
  private ready = false;
  private checked = false;
  private successes = 0;
  private failures = 0;
  /** Registered and ready: the ingress VIP managers campaign only while this holds. */
  private serving = false;
  private lease: bigint | undefined;
  private keepAlive: { send(): void; close(): void } | undefined;
  private view: EdgeView = EMPTY_VIEW;
  private readonly lastHolders = new Map<string, string>();
  /** Edges last seen holding a VIP whose key then vanished, with when: dead or cut off. */
  private readonly gone = new Map<string, number>();
  private signature = "";
  private quietSince = 0;
  private busy = false;
  private stopped = false;
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(
    config: IngressConfig,
    deps: {
      etcd: EtcdClient;
      host: string;
      log: (e: Record<string, unknown>) => void;
      /** Tests replace the HTTP check and the clock. */
      probe?: () => Promise<boolean>;
      now?: () => number;
    },
  ) {
    this.config = config;
    this.etcd = deps.etcd;
    this.host = deps.host;
    this.log = deps.log;
    this.now = deps.now ?? (() => performance.now());
    this.probe = deps.probe ?? (() => controllerReady(config.controller.url, config.controller.timeoutMs));
    this.started = this.now();
  }

  /** Whether this edge's VIP managers may campaign: its controller is ready and it is registered. */
  get isServing(): boolean {
    return this.serving;
  }

  get controllerIsReady(): boolean {
    return this.ready;
  }

  /** The latest view of the edges (refreshed every VIEW_MS). */
  get edges(): EdgeView {
    return this.view;
  }

  private get ttlSeconds(): number {
    return this.config.vips[0]?.leaseTtlSeconds ?? 2;
  }

  async start(): Promise<void> {
    await this.check();
    this.timers.push(setInterval(() => void this.check(), this.config.controller.intervalMs));
    this.timers.push(setInterval(() => void this.refresh().catch(() => {}), VIEW_MS));
    this.timers.push(setInterval(() => this.keepAlive?.send(), (this.ttlSeconds * 1000) / 4));
  }

  /** A planned stop: leave the ready set first, so the VIPs about to be released go to the others at once. */
  async leave(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearInterval(t);
    await this.deregister();
  }

  /** One controller check, and registration to match. */
  async check(): Promise<void> {
    if (this.busy || this.stopped) return;
    this.busy = true;
    try {
      const ok = await this.probe();
      const first = !this.checked;
      this.checked = true;
      if (ok) {
        this.successes++;
        this.failures = 0;
      } else {
        this.failures++;
        this.successes = 0;
      }
      const { rise, fall } = this.config.controller;
      if (!this.ready && ok && (first || this.successes >= rise)) {
        this.ready = true;
        this.log({ kind: "controller-ready", url: this.config.controller.url });
      } else if (this.ready && this.failures >= fall) {
        this.ready = false;
        this.log({ kind: "controller-unready", url: this.config.controller.url, failures: this.failures });
      }
      if (this.ready && !this.serving) await this.register();
      if (!this.ready && this.serving) await this.deregister();
    } catch (err) {
      this.log({ kind: "edge-etcd-error", error: (err as Error).message });
    } finally {
      this.busy = false;
    }
  }

  private async register(): Promise<void> {
    const { id } = await this.etcd.leaseGrant(this.ttlSeconds);
    this.dropLease();
    this.lease = id;
    this.keepAlive = this.etcd.keepAlive(
      id,
      (ttl) => {
        if (ttl <= 0 && this.lease === id) this.lost("etcd says the registration lease is gone");
      },
      () => {
        if (this.lease === id) this.lost("the keep-alive stream broke");
      },
    );
    await this.etcd.put(edgeSeenKey(this.host), this.host);
    await this.etcd.put(edgeKey(this.host), this.host, id);
    if (this.stopped || !this.ready) return;
    this.serving = true;
    this.log({ kind: "edge-registered" });
  }

  /** The registration lapsed: register again at the next check (the VIP managers hold their own leases). */
  private lost(reason: string): void {
    this.dropLease(false);
    this.serving = false;
    this.log({ kind: "edge-registration-lost", reason });
  }

  private async deregister(): Promise<void> {
    const lease = this.lease;
    this.dropLease(false);
    if (lease !== undefined) {
      await this.etcd.leaseRevoke(lease).catch((err: Error) => {
        this.log({ kind: "edge-etcd-error", error: `revoking the registration: ${err.message}` });
      });
    }
    if (this.serving) this.log({ kind: "edge-deregistered" });
    this.serving = false;
  }

  private dropLease(revoke = true): void {
    const id = this.lease;
    this.lease = undefined;
    this.keepAlive?.close();
    this.keepAlive = undefined;
    if (revoke && id !== undefined) void this.etcd.leaseRevoke(id).catch(() => {});
  }

  /** Reads the ready edges and the ingress VIPs' holders, and notes who vanished. */
  async refresh(): Promise<EdgeView> {
    const [edges, seen, vips] = await Promise.all([
      this.etcd.list(EDGE_PREFIX),
      this.etcd.list(EDGE_SEEN_PREFIX),
      this.etcd.list(`${VIP_PREFIX}ingress-`),
    ]);
    const now = this.now();
    const ready = new Set(edges.map((kv) => kv.key.slice(EDGE_PREFIX.length)));
    const firstReady = new Map(seen.map((kv) => [kv.key.slice(EDGE_SEEN_PREFIX.length), kv.createRevision]));
    const holders = new Map(vips.map((kv) => [kv.key.slice(VIP_PREFIX.length), kv.value]));
    const taken = new Map(vips.map((kv) => [kv.key.slice(VIP_PREFIX.length), kv.modRevision]));
    for (const { name } of this.config.vips) {
      const holder = holders.get(name);
      const last = this.lastHolders.get(name);
      if (holder === undefined && last) this.gone.set(last, now);
      if (holder) {
        this.lastHolders.set(name, holder);
        this.gone.delete(holder);
      } else this.lastHolders.delete(name);
    }
    for (const [h, since] of this.gone) {
      if (!ready.has(h) || now - since > 2 * this.ttlSeconds * 1000 + 1000) this.gone.delete(h);
    }
    const signature = JSON.stringify([[...ready].sort(), [...holders].sort()]);
    if (signature !== this.signature) {
      this.signature = signature;
      this.quietSince = now;
    }
    this.view = { ready, holders, firstReady, taken };
    return this.view;
  }

  /** The edges counted as ready (this one included), and each one's share: ⌈VIPs / ready⌉. */
  private shares(view: EdgeView): { alive: Set<string>; cap: number; count: (h: string) => number } {
    const alive = new Set([...view.ready].filter((h) => !this.gone.has(h)));
    alive.add(this.host);
    const cap = Math.ceil(this.config.vips.length / alive.size);
    const count = (h: string) => [...view.holders.values()].filter((v) => v === h).length;
    return { alive, cap, count };
  }

  private preferred(index: number): string {
    return this.config.edges[index % this.config.edges.length] ?? this.host;
  }

  /** Whether this edge should leave vacant VIP `index` to another for now; `age`: how long it has been vacant. */
  shouldYield(index: number, view: EdgeView, age: number): boolean {
    const { alive, cap, count } = this.shares(view);
    if (count(this.host) >= cap && age < OVERFLOW_MS) return true;
    const pref = this.preferred(index);
    if (pref === this.host) return false;
    if (age < PREFER_MS && alive.has(pref) && count(pref) < cap) return true;
    const starting = !view.firstReady.has(pref);
    return starting && this.now() - this.started < STARTUP_MS && age < STARTUP_MS;
  }

  /** Why this holder of VIP `index` should hand it to its preferred edge, first ready after the VIP was taken. */
  handBackReason(index: number, view: EdgeView = this.view): string | undefined {
    const name = this.config.vips[index]?.name ?? "";
    const pref = this.preferred(index);
    if (pref === this.host || view.holders.get(name) !== this.host) return undefined;
    const { alive, cap, count } = this.shares(view);
    if (!alive.has(pref) || count(pref) >= cap || count(this.host) <= cap) return undefined;
    const first = view.firstReady.get(pref);
    const taken = view.taken.get(name);
    if (first === undefined || taken === undefined || first < taken) return undefined;
    return `hand-back: ${pref}, the preferred edge of ${name}, became ready after ${this.host} took it`;
  }

  /** With rebalance on: why this holder of VIP `index` should hand it over now, or undefined. */
  rebalanceReason(index: number): string | undefined {
    const quiet = this.config.rebalanceQuietMs;
    if (quiet === undefined || this.now() - this.quietSince < quiet) return undefined;
    const { alive, cap, count } = this.shares(this.view);
    const mine = count(this.host);
    if (mine <= cap) return undefined;
    // one VIP at a time: only the most loaded edge moves one (ties: the first name)
    const top = [...alive].sort((a, b) => count(b) - count(a) || a.localeCompare(b))[0];
    if (top !== this.host) return undefined;
    const held = this.config.vips
      .map((v, i) => ({ i, name: v.name }))
      .filter((v) => this.view.holders.get(v.name) === this.host)
      .map((v) => v.i);
    const toPreferred = held.find((i) => {
      const pref = this.preferred(i);
      return pref !== this.host && alive.has(pref) && count(pref) < cap;
    });
    if ((toPreferred ?? held[held.length - 1]) !== index) return undefined;
    this.quietSince = this.now();
    return `rebalance: ${this.host} holds ${mine} of ${this.config.vips.length} ingress VIPs, above its share of ${cap} with ${alive.size} edges ready`;
  }

  /** The placement of ingress VIP `index` for its VIP manager. */
  placement(index: number): Placement {
    let vacantSince = 0;
    return {
      held: () => {
        vacantSince = 0;
      },
      yieldVacancy: async () => {
        const now = this.now();
        vacantSince ||= now;
        const view = await this.refresh().catch(() => undefined);
        // without a fresh view, campaign: the compare-and-swap still decides, and a VIP must not stay vacant
        if (!view || !this.shouldYield(index, view, now - vacantSince)) {
          vacantSince = 0;
          return false;
        }
        return true;
      },
      handOver: async () => this.rebalanceReason(index) ?? this.handBackReason(index),
    };
  }

  /** Metric lines: the controller's readiness and the edges etcd counts as ready. */
  metrics(): string[] {
    return [
      "# HELP kubeha_ingress_controller_ready 1 while the local ingress controller is ready and this edge registered",
      "# TYPE kubeha_ingress_controller_ready gauge",
      `kubeha_ingress_controller_ready ${this.serving ? 1 : 0}`,
      "# HELP kubeha_ingress_edges_ready edges etcd counts as ready",
      "# TYPE kubeha_ingress_edges_ready gauge",
      `kubeha_ingress_edges_ready ${this.view.ready.size}`,
    ];
  }
}
