/**
 * Where a VIP should be, beyond "a healthy host holds it": hooks the VIP
 * manager asks before campaigning for a vacant VIP and, as the holder,
 * whether to hand it over cleanly. Leader avoidance (leader.ts) keeps the API
 * VIP off the etcd leader's host; edge balance (../edge.ts) spreads the
 * ingress VIPs over the ready edges. They combine: a host yields when any
 * says so.
 */

export interface Placement {
  /** The VIP is held by someone: the next vacancy is a new one. */
  held(): void;
  /** The VIP is vacant: whether this host should leave it to the others a little longer. */
  yieldVacancy(): Promise<boolean>;
  /** For the holder: why to hand the VIP over now (a planned move), or undefined to keep it. */
  handOver(): Promise<string | undefined>;
}

/** Placements asked in turn: yields when any yields, hands over for the first that asks. */
export function combine(...parts: readonly Placement[]): Placement {
  return {
    held: () => {
      for (const p of parts) p.held();
    },
    async yieldVacancy() {
      const answers = await Promise.all(parts.map((p) => p.yieldVacancy()));
      return answers.some(Boolean);
    },
    async handOver() {
      for (const p of parts) {
        const reason = await p.handOver();
        if (reason) return reason;
      }
      return undefined;
    },
  };
}
