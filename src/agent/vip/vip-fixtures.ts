/**
 * For tests of the election against a real etcd without hosts: a segment
 * that records which fake host holds an address instead of adding it.
 */
import type { AddressOps } from "./address.js";

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
