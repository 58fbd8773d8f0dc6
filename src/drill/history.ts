/**
 * What a drill's clients saw, as histories of requests, and what follows
 * from them with no I/O: outage windows after OpenShift's disruption
 * monitoring (a window opens at the start of the first failed request and
 * closes at the start of the next request that succeeds, so a client that
 * saw nothing fail has none), failures and indeterminate requests (timed out:
 * they may or may not have taken effect, Jepsen's "info"), latency
 * percentiles of the successes. Times are milliseconds from the fault.
 */

/** One request a client made. */
export interface Request {
  /** When it was sent and when it ended, ms from the fault (negative: before it). */
  readonly start: number;
  readonly end: number;
  readonly outcome: "ok" | "failed" | "indeterminate";
  /** Why it failed, short: "ECONNREFUSED", "HTTP 503", "timeout". */
  readonly error?: string;
}

/** A stretch of time in which a client's requests failed. */
export interface Window {
  readonly start: number;
  readonly end: number;
  /** Failed and indeterminate requests in it. */
  readonly requests: number;
  /** The errors seen, with counts: "ECONNREFUSED ×3". */
  readonly errors: readonly string[];
  /** Still open when the client stopped: nothing succeeded after it. */
  readonly open?: boolean;
}

export interface ClientSummary {
  readonly name: string;
  readonly description: string;
  readonly requests: number;
  readonly failures: number;
  readonly indeterminate: number;
  readonly windows: readonly Window[];
  /** The longest window, ms (0: none). */
  readonly longestMs: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** The first success after the fault, ms from it (undefined: none). */
  readonly firstSuccessAfterFault?: number;
}

/** The value at quantile `q` (0..1) of `values`, nearest rank; 0 for none. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

const counted = (errors: readonly string[]) => {
  const counts = new Map<string, number>();
  for (const e of errors) counts.set(e, (counts.get(e) ?? 0) + 1);
  return [...counts].map(([e, n]) => (n === 1 ? e : `${e} ×${n}`));
};

/** The outage windows of a history (requests in the order they were sent). */
export function outageWindows(history: readonly Request[]): Window[] {
  const sorted = [...history].sort((a, b) => a.start - b.start);
  const windows: Window[] = [];
  let open: { start: number; errors: string[] } | undefined;
  for (const r of sorted) {
    if (r.outcome === "ok") {
      if (open)
        windows.push({
          start: Math.round(open.start),
          end: Math.round(r.start),
          requests: open.errors.length,
          errors: counted(open.errors),
        });
      open = undefined;
    } else {
      open ??= { start: r.start, errors: [] };
      open.errors.push(r.error ?? r.outcome);
    }
  }
  if (open) {
    const last = sorted[sorted.length - 1] as Request;
    windows.push({
      start: Math.round(open.start),
      end: Math.round(last.end),
      requests: open.errors.length,
      errors: counted(open.errors),
      open: true,
    });
  }
  return windows;
}

/** Everything a drill report says about one client. */
export function summarize(name: string, description: string, history: readonly Request[]): ClientSummary {
  const windows = outageWindows(history);
  const ok = history.filter((r) => r.outcome === "ok");
  const latencies = ok.map((r) => r.end - r.start);
  const after = ok.filter((r) => r.start >= 0).sort((a, b) => a.end - b.end)[0];
  return {
    name,
    description,
    requests: history.length,
    failures: history.filter((r) => r.outcome === "failed").length,
    indeterminate: history.filter((r) => r.outcome === "indeterminate").length,
    windows,
    longestMs: Math.round(Math.max(0, ...windows.map((w) => w.end - w.start))),
    p50Ms: Math.round(quantile(latencies, 0.5) * 10) / 10,
    p99Ms: Math.round(quantile(latencies, 0.99) * 10) / 10,
    ...(after && { firstSuccessAfterFault: Math.round(after.end) }),
  };
}
