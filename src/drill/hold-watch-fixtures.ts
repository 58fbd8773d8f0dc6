/**
 * Watching a VIP on lab hosts, for the lab tests and the VIP benchmarks, with
 * the drill's own measurement (observers.ts): who holds it over time,
 * from the kernel's address events on every host (`ip -ts monitor address`;
 * the hosts share this machine's clock, so their intervals compare exactly),
 * read into holdings and overlaps by the code `kubeha drill` reports with.
 * What a client sees is measured with the drill's clients (clients.ts).
 */
import { spawn } from "node:child_process";
import { sleep } from "../core/wait.js";
import { sshArgs } from "../lab/ssh.js";
import { SAME_CLOCK } from "./clients.js";
import { type Holding, holdingsFrom, overlaps } from "./observers.js";

type Interval = [start: number, end: number];

/** The address events of one VIP on some hosts, until stopped or `maxSeconds` pass. */
export class HoldWatch {
  private readonly printed = new Map<string, string>();
  private readonly off = new Map<string, number>();
  private readonly procs: ReturnType<typeof spawn>[] = [];
  private readonly startedAt = Date.now();

  constructor(
    labDir: string,
    hosts: readonly { name: string; address: string }[],
    private readonly vip: string,
    maxSeconds = 120,
  ) {
    for (const h of hosts) {
      this.printed.set(h.name, "");
      const p = spawn(
        "ssh",
        [
          ...sshArgs(labDir, h.address),
          `ip -o addr show to ${vip}/32; exec env TZ=UTC nice -n -20 timeout ${maxSeconds} ip -ts -o monitor address`,
        ],
        { stdio: ["ignore", "pipe", "ignore"] },
      );
      p.stdout?.on("data", (d: Buffer) => this.printed.set(h.name, this.printed.get(h.name) + d.toString()));
      this.procs.push(p);
    }
  }

  /** Lets the watchers see the current state before the test acts. */
  static async settle(): Promise<void> {
    await sleep(1500);
  }

  /** `host` was powered off at `at`: it held nothing from then on (its watcher died with it). */
  poweredOff(host: string, at = Date.now()): void {
    this.off.set(host, at);
  }

  /** Every host's holdings of the VIP, as the drill reads them. */
  holdings(): Holding[] {
    return [...this.printed].flatMap(([host, text]) => {
      const initial = text
        .split("\n")
        .filter((l) => !l.startsWith("["))
        .join("\n");
      const off = this.off.get(host);
      return holdingsFrom(host, [this.vip], initial, text, this.startedAt, SAME_CLOCK).map((h) =>
        off !== undefined && (h.end === undefined || h.end > off) ? { ...h, end: off } : h,
      );
    });
  }

  /** Intervals during which `host` held the address. */
  intervals(host: string, until = Date.now()): Interval[] {
    return this.holdings()
      .filter((h) => h.host === host)
      .map((h) => [h.start, h.end ?? until]);
  }

  /** Milliseconds during which two or more hosts held the address at once (the drill's rule). */
  overlapMs(until = Date.now()): number {
    return overlaps(this.holdings(), this.vip, until).ms;
  }

  /** Number of times the holder changed to a different host, from `since` on. */
  moves(since: number): number {
    const starts = this.holdings()
      .filter((h) => h.start >= since)
      .sort((x, y) => x.start - y.start);
    let moves = 0;
    let last: string | undefined;
    for (const s of starts) {
      if (last !== undefined && s.host !== last) moves++;
      last = s.host;
    }
    return moves;
  }

  stop(): void {
    for (const p of this.procs) p.kill();
  }
}
