/**
 * Watching a VIP on lab hosts, for the lab tests and the VIP benchmark:
 * who holds it over time (from the kernel's own address events on every
 * host, `ip -ts monitor address`: the hosts share this machine's clock, so
 * their intervals compare exactly) and what a client sees (a TCP connect
 * every 10 ms from the operator's side of the bridge). And, for tests of
 * the election against a real etcd without hosts, a segment that records
 * which fake host holds an address instead of adding it.
 */
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { sleep } from "../../core/wait.js";
import { sshArgs } from "../../lab/ssh.js";
import type { AddressOps } from "./address.js";

type Interval = [start: number, end: number];

/**
 * The address events of one VIP on some hosts, until stopped or `maxSeconds` pass.
 * `ip -ts` stamps an event when it reads it, so the watchers run at the highest
 * priority: on a loaded machine a late reader would show an overlap that never was.
 */
export class HoldWatch {
  private readonly events = new Map<string, { at: number; held: boolean }[]>();
  private readonly ended = new Map<string, number>();
  private readonly procs: ReturnType<typeof spawn>[] = [];

  constructor(
    labDir: string,
    hosts: readonly { name: string; address: string }[],
    vip: string,
    maxSeconds = 120,
  ) {
    for (const h of hosts) {
      const list: { at: number; held: boolean }[] = [];
      this.events.set(h.name, list);
      const p = spawn(
        "ssh",
        [
          ...sshArgs(labDir, h.address),
          `ip -o addr show to ${vip}/32; exec nice -n -20 timeout ${maxSeconds} ip -ts -o monitor address`,
        ],
        { stdio: ["ignore", "pipe", "ignore"] },
      );
      const started = Date.now();
      let buf = "";
      p.stdout?.on("data", (d: Buffer) => {
        buf += d;
        const lines = buf.split("\n");
        buf = lines.pop() ?? "";
        for (const line of lines) {
          if (!line.includes(` ${vip}/32 `)) continue;
          const ts = line.match(/^\[([\d-]+T[\d:.]+)\]/)?.[1];
          list.push({ at: ts ? Date.parse(`${ts}Z`) : started, held: !/\] Deleted /.test(line) });
        }
      });
      p.once("exit", () => this.ended.set(h.name, Date.now()));
      this.procs.push(p);
    }
  }

  /** Lets the watchers see the current state before the test acts. */
  static async settle(): Promise<void> {
    await sleep(1500);
  }

  /** Intervals during which `host` held the address; a host that vanished held it until its watcher ended. */
  intervals(host: string, until = Date.now()): Interval[] {
    const out: Interval[] = [];
    let since: number | undefined;
    for (const e of this.events.get(host) ?? []) {
      if (e.held && since === undefined) since = e.at;
      if (!e.held && since !== undefined) {
        out.push([since, e.at]);
        since = undefined;
      }
    }
    if (since !== undefined) out.push([since, Math.min(until, this.ended.get(host) ?? until)]);
    return out;
  }

  /** Who holds it at the end of the record. */
  holders(): string[] {
    return [...this.events.keys()].filter((h) => {
      const last = this.events.get(h)?.at(-1);
      return last?.held === true && !this.ended.has(h);
    });
  }

  /** Milliseconds during which two or more hosts held the address at once. */
  overlapMs(until = Date.now()): number {
    const edges: [number, number][] = [];
    for (const h of this.events.keys())
      for (const [a, b] of this.intervals(h, until)) edges.push([a, 1], [b, -1]);
    edges.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
    let depth = 0;
    let total = 0;
    let prev = 0;
    for (const [t, d] of edges) {
      if (depth >= 2) total += t - prev;
      depth += d;
      prev = t;
    }
    return total;
  }

  /** Number of times the holder changed to a different host, from `since` on. */
  moves(since: number): number {
    const starts = [...this.events.keys()]
      .flatMap((h) => this.intervals(h).map(([a]) => ({ h, a })))
      .filter((s) => s.a >= since)
      .sort((x, y) => x.a - y.a);
    let moves = 0;
    let last: string | undefined;
    for (const s of starts) {
      if (last !== undefined && s.h !== last) moves++;
      last = s.h;
    }
    return moves;
  }

  stop(): void {
    for (const p of this.procs) p.kill();
  }
}

/** A client that connects to `address:port` every 10 ms for `durationMs`; returns each outage. */
export async function probeVip(
  address: string,
  port: number,
  durationMs: number,
): Promise<{ outages: Interval[]; attempts: number; failed: number }> {
  const end = Date.now() + durationMs;
  const outages: Interval[] = [];
  let lastOk = Date.now();
  let down = false;
  let attempts = 0;
  let failed = 0;
  while (Date.now() < end) {
    const t0 = Date.now();
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: address, port, timeout: 100 });
      s.once("connect", () => {
        s.destroy();
        resolve(true);
      });
      s.once("error", () => resolve(false));
      s.once("timeout", () => {
        s.destroy();
        resolve(false);
      });
    });
    attempts++;
    const now = Date.now();
    if (ok) {
      if (down) outages.push([lastOk, now]);
      down = false;
      lastOk = now;
    } else {
      failed++;
      down = true;
    }
    await sleep(Math.max(0, 10 - (Date.now() - t0)));
  }
  if (down) outages.push([lastOk, Date.now()]);
  return { outages, attempts, failed };
}

/** One shared segment: which fake host holds the address, with every change timed. */
export class Segment {
  readonly holding = new Set<string>();
  readonly log: { at: number; host: string; op: "hold" | "release" }[] = [];
  maxHolders = 0;
  ops(host: string): AddressOps {
    return {
      hold: async () => {
        if (!this.holding.has(host)) this.log.push({ at: performance.now(), host, op: "hold" });
        this.holding.add(host);
        this.maxHolders = Math.max(this.maxHolders, this.holding.size);
      },
      release: async () => {
        if (this.holding.delete(host)) this.log.push({ at: performance.now(), host, op: "release" });
      },
      claimedElsewhere: async () => [...this.holding].some((h) => h !== host),
      announce: () => {},
    };
  }
}
