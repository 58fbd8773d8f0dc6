/**
 * A drill's report, computed with no I/O from what was recorded: a timeline
 * in ms from the fault, a summary per client, the invariants (never two
 * holders of a VIP at once, no acknowledged etcd write lost, no fail-back),
 * a verdict against the budgets, and over N trials the median and p95 of
 * the figures. `kubeha drill -o json` prints it (apiVersion kubeha/v1alpha1,
 * kind DrillReport; fields only ever added).
 */

import type { WriteCheck } from "./clients.js";
import { type ClientSummary, quantile, type Request, summarize } from "./history.js";
import type { Holding, JournalEvent } from "./observers.js";
import { overlaps } from "./observers.js";

export interface TimelineEvent {
  /** ms from the fault. */
  readonly at: number;
  readonly what: string;
}

export interface Invariant {
  readonly name: string;
  readonly holds: boolean;
  readonly detail: string;
}

/** What no client may exceed; defaults from ARCHITECTURE §7 and the spec's timings (drill/budgets.ts). */
export interface Budgets {
  /** The longest outage window any client may see. */
  readonly maxOutageMs: number;
  /** Failed requests allowed through the node-local proxy when one apiserver is killed or stopped. */
  readonly nodeLocalProxyFailures?: number;
}

/** A VIP before and after. */
export interface VipOutcome {
  readonly name: string;
  readonly address: string;
  readonly holderBefore?: string;
  readonly holderAfter?: string;
  /** When a new holder first had the address, ms from the fault. */
  readonly takenOverAt?: number;
  /** ms during which two hosts had it at once. */
  readonly twoHoldersMs: number;
}

export interface TrialReport {
  readonly trial: number;
  /** The fault's instant, ISO. */
  readonly faultAt: string;
  readonly injectMs: number;
  /** When recovery started and ended, ms from the fault. */
  readonly recoverAt: number;
  readonly recoveredAt: number;
  /** When status said healthy again, ms from the fault (undefined: it did not within the wait). */
  readonly healthyAt?: number;
  readonly statusBefore: string;
  readonly statusAfter: string;
  readonly timeline: readonly TimelineEvent[];
  readonly clients: readonly ClientSummary[];
  readonly vips: readonly VipOutcome[];
  readonly writes?: WriteCheck;
  readonly invariants: readonly Invariant[];
  /** Budget breaches, each a sentence. */
  readonly overBudget: readonly string[];
  readonly passed: boolean;
}

/** What one trial recorded, in epoch ms, for report(). */
export interface TrialRecord {
  readonly trial: number;
  readonly faultAt: number;
  readonly injectedAt: number;
  readonly recoverAt: number;
  readonly recoveredAt: number;
  readonly healthyAt?: number;
  readonly endedAt: number;
  readonly statusBefore: string;
  readonly statusAfter: string;
  readonly target: string;
  readonly clients: readonly { name: string; description: string; history: readonly Request[] }[];
  readonly holdings: readonly Holding[];
  readonly vips: readonly { name: string; address: string; holderBefore?: string }[];
  readonly journal: readonly JournalEvent[];
  readonly writes?: WriteCheck;
  /** The client whose failures the node-local proxy budget counts, when it applies to this fault. */
  readonly nodeLocalClient?: string;
}

const rel = (t: number, t0: number) => Math.round(t - t0);

/** The timeline of a trial from the journals, the holdings and the clients. */
export function timeline(r: TrialRecord): TimelineEvent[] {
  const t0 = r.faultAt;
  const events: TimelineEvent[] = [{ at: 0, what: "fault injected" }];
  const after = (e: JournalEvent) => e.at >= t0 - 50 && e.at <= r.endedAt;
  const vipName = (e: JournalEvent) =>
    `${String(e.event.vip ?? "VIP")} ${String(e.event.address ?? "")}`.trim();
  for (const e of r.journal.filter(after)) {
    const kind = String(e.event.kind ?? "");
    if (kind === "vip-acquired")
      events.push({
        at: rel(e.at, t0),
        what: `${e.host} took ${vipName(e)} (address added, gratuitous ARP sent)${e.event.after ? `: ${String(e.event.after)}` : ""}`,
      });
    else if (kind === "vip-released")
      events.push({
        at: rel(e.at, t0),
        what: `${e.host} let go of ${vipName(e)}: ${String(e.event.reason ?? "")}`,
      });
    else if (kind === "edge-deregistered" || kind === "controller-unready")
      events.push({ at: rel(e.at, t0), what: `${e.host}: ${kind}` });
    else if (e.unit === "etcd") {
      const msg = String(e.event.message ?? "");
      const elected = /elected leader ([0-9a-f]+) at term (\d+)/.exec(msg);
      if (elected)
        events.push({
          at: rel(e.at, t0),
          what: `etcd leader elected at term ${elected[2]} (seen by ${e.host})`,
        });
    }
  }
  // backends taken out: the first and the last load balancer, per backend
  const downs = r.journal.filter((e) => after(e) && e.event.kind === "backend-down");
  const byBackend = new Map<string, JournalEvent[]>();
  for (const e of downs)
    byBackend.set(String(e.event.backend), [...(byBackend.get(String(e.event.backend)) ?? []), e]);
  for (const [backend, list] of byBackend) {
    const sorted = [...list].sort((a, b) => a.at - b.at);
    const first = sorted[0] as JournalEvent;
    const last = sorted[sorted.length - 1] as JournalEvent;
    const hosts = new Set(sorted.map((e) => e.host)).size;
    events.push({
      at: rel(first.at, t0),
      what: `backend ${backend} taken out of rotation by ${first.host}'s load balancer (${String(first.event.reason ?? "")})`,
    });
    if (hosts > 1)
      events.push({
        at: rel(last.at, t0),
        what: `backend ${backend} out on all ${hosts} load balancers that saw it fail`,
      });
  }
  // a new holder of each VIP, from the addresses
  for (const v of r.vips) {
    const taken = r.holdings
      .filter((h) => h.vip === v.address && h.host !== v.holderBefore && h.start > t0)
      .sort((a, b) => a.start - b.start)[0];
    if (taken)
      events.push({
        at: rel(taken.start, t0),
        what: `${taken.host} has ${v.name} VIP ${v.address} on its interface`,
      });
  }
  for (const c of r.clients) {
    const first = c.history.find((q) => q.start >= t0 && q.outcome === "ok");
    const failedBefore = c.history.some(
      (q) => q.start >= t0 && q.start < (first?.start ?? Number.POSITIVE_INFINITY) && q.outcome !== "ok",
    );
    if (first && failedBefore)
      events.push({ at: rel(first.end, t0), what: `${c.name}: first success after the fault` });
  }
  events.push({ at: rel(r.recoverAt, t0), what: "recovery started" });
  events.push({ at: rel(r.recoveredAt, t0), what: "recovered" });
  if (r.healthyAt !== undefined) events.push({ at: rel(r.healthyAt, t0), what: "status healthy again" });
  return events.sort((a, b) => a.at - b.at);
}

function vipOutcomes(r: TrialRecord): VipOutcome[] {
  return r.vips.map((v) => {
    const mine = r.holdings.filter((h) => h.vip === v.address);
    const after = mine.filter((h) => h.end === undefined).map((h) => h.host);
    const taken = mine
      .filter((h) => h.host !== v.holderBefore && h.start > r.faultAt)
      .sort((a, b) => a.start - b.start)[0];
    return {
      name: v.name,
      address: v.address,
      ...(v.holderBefore && { holderBefore: v.holderBefore }),
      ...(after.length === 1 && { holderAfter: after[0] }),
      ...(taken && { takenOverAt: rel(taken.start, r.faultAt) }),
      twoHoldersMs: overlaps(r.holdings, v.address, r.endedAt).ms,
    };
  });
}

/**
 * Reasons a holder lets a VIP go of its own accord (the agent's log): it
 * failed or stopped, or its etcd member leads (leader.ts). A VIP that went
 * back to the recovered host after one of these was elected there, not
 * failed back.
 */
const OWN_REASONS = /fence|stopping|no healthy backend|etcd names|lease is gone|member leads/;

/**
 * No fail-back: the recovered host takes the VIP back only when its holder
 * let it go for a reason of its own, never because the old holder came back
 * (keepalived's preemption, which costs every connection on the VIP twice).
 */
function failBack(r: TrialRecord, v: VipOutcome): Invariant {
  const name = `no fail-back of ${v.name} VIP`;
  const retakes = r.journal.filter(
    (e) =>
      e.host === r.target && e.event.kind === "vip-acquired" && e.event.vip === v.name && e.at >= r.recoverAt,
  );
  for (const retake of retakes) {
    const release = r.journal
      .filter(
        (e) =>
          e.event.kind === "vip-released" &&
          e.event.vip === v.name &&
          e.host !== r.target &&
          e.at <= retake.at,
      )
      .sort((a, b) => b.at - a.at)[0];
    const reason = String(release?.event.reason ?? "");
    if (release && !OWN_REASONS.test(reason))
      return {
        name,
        holds: false,
        detail: `${release.host} handed it back to ${r.target} after it recovered: ${reason}`,
      };
  }
  const back = r.holdings.some((h) => h.vip === v.address && h.host === r.target && h.start > r.recoverAt);
  return {
    name,
    holds: true,
    detail: back
      ? `back on ${r.target} only after its holder let it go (${retakes.length} election${retakes.length === 1 ? "" : "s"} there)`
      : `stayed off ${r.target} after it recovered`,
  };
}

/** The report of one trial, judged against `budgets`. */
export function report(r: TrialRecord, budgets: Budgets): TrialReport {
  const t0 = r.faultAt;
  const clients = r.clients.map((c) =>
    summarize(
      c.name,
      c.description,
      c.history.map((q) => ({ ...q, start: q.start - t0, end: q.end - t0 })),
    ),
  );
  const vips = vipOutcomes(r);
  const invariants: Invariant[] = vips.map((v) => ({
    name: `one holder of ${v.name} VIP ${v.address}`,
    holds: v.twoHoldersMs === 0,
    detail: v.twoHoldersMs === 0 ? "never two hosts at once" : `two hosts held it for ${v.twoHoldersMs} ms`,
  }));
  if (r.writes)
    invariants.push({
      name: "no acknowledged etcd write lost",
      holds: r.writes.lost.length === 0 && !r.writes.error,
      detail: r.writes.error
        ? r.writes.error
        : `${r.writes.acknowledged} acknowledged, ${r.writes.lost.length} missing after the heal, ${r.writes.indeterminate} indeterminate`,
    });
  for (const v of vips.filter((v) => v.holderBefore === r.target && v.takenOverAt !== undefined))
    invariants.push(failBack(r, v));
  const overBudget: string[] = [];
  for (const c of clients) {
    if (c.longestMs > budgets.maxOutageMs)
      overBudget.push(`${c.name}: longest outage ${c.longestMs} ms > ${budgets.maxOutageMs} ms`);
    if (c.windows.some((w) => w.open)) overBudget.push(`${c.name}: still failing when the drill ended`);
  }
  const nodeLocal = clients.find((c) => c.name === r.nodeLocalClient);
  if (
    nodeLocal &&
    budgets.nodeLocalProxyFailures !== undefined &&
    nodeLocal.failures > budgets.nodeLocalProxyFailures
  )
    overBudget.push(
      `${nodeLocal.name}: ${nodeLocal.failures} failed requests > ${budgets.nodeLocalProxyFailures}`,
    );
  if (r.healthyAt === undefined)
    overBudget.push(`status did not say healthy again (it said ${r.statusAfter})`);
  return {
    trial: r.trial,
    faultAt: new Date(t0).toISOString(),
    injectMs: rel(r.injectedAt, t0),
    recoverAt: rel(r.recoverAt, t0),
    recoveredAt: rel(r.recoveredAt, t0),
    ...(r.healthyAt !== undefined && { healthyAt: rel(r.healthyAt, t0) }),
    statusBefore: r.statusBefore,
    statusAfter: r.statusAfter,
    timeline: timeline(r),
    clients,
    vips,
    ...(r.writes && { writes: r.writes }),
    invariants,
    overBudget,
    passed: invariants.every((i) => i.holds) && overBudget.length === 0,
  };
}

/** Median and p95 over trials of each client's longest outage and of each VIP's takeover. */
export interface Aggregate {
  readonly trials: number;
  readonly passed: number;
  readonly clients: readonly {
    name: string;
    longestMs: { median: number; p95: number };
    failures: { median: number; p95: number };
  }[];
  readonly takeover: readonly { vip: string; ms: { median: number; p95: number }; trials: number }[];
}

const stats = (values: readonly number[]) => ({
  median: Math.round(quantile(values, 0.5)),
  p95: Math.round(quantile(values, 0.95)),
});

export function aggregate(trials: readonly TrialReport[]): Aggregate {
  const names = [...new Set(trials.flatMap((t) => t.clients.map((c) => c.name)))];
  const vips = [...new Set(trials.flatMap((t) => t.vips.map((v) => v.name)))];
  return {
    trials: trials.length,
    passed: trials.filter((t) => t.passed).length,
    clients: names.map((name) => {
      const list = trials.flatMap((t) => t.clients.filter((c) => c.name === name));
      return {
        name,
        longestMs: stats(list.map((c) => c.longestMs)),
        failures: stats(list.map((c) => c.failures)),
      };
    }),
    takeover: vips.flatMap((vip) => {
      const ms = trials.flatMap((t) =>
        t.vips
          .filter((v) => v.name === vip && v.takenOverAt !== undefined)
          .map((v) => v.takenOverAt as number),
      );
      return ms.length > 0 ? [{ vip, ms: stats(ms), trials: ms.length }] : [];
    }),
  };
}
