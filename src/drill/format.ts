/** Drill reports as text: per trial a timeline, a table per client, the invariants; then medians over the trials. */
import { table } from "../core/table.js";
import type { Aggregate, Budgets, TrialReport } from "./report.js";

const ms = (n: number) => `${n} ms`;

export function formatTrial(t: TrialReport): string {
  const out: string[] = [];
  out.push(
    `trial ${t.trial} (${t.faultAt}): ${t.passed ? "PASSED" : "FAILED"}; status before ${t.statusBefore}, after ${t.statusAfter}`,
  );
  out.push("", "  timeline (ms from the fault)");
  for (const e of t.timeline) out.push(`  ${String(e.at).padStart(7)}  ${e.what}`);
  out.push(
    "",
    table([
      ["CLIENT", "REQUESTS", "FAILED", "INDETERMINATE", "WINDOWS", "LONGEST", "P50", "P99"],
      ...t.clients.map((c) => [
        c.name,
        String(c.requests),
        String(c.failures),
        String(c.indeterminate),
        c.windows.length === 0
          ? "-"
          : c.windows
              .slice(0, 3)
              .map((w) => `${w.start}..${w.end}${w.open ? " (open)" : ""} [${w.errors.join(", ")}]`)
              .join("; ") + (c.windows.length > 3 ? ` +${c.windows.length - 3} more` : ""),
        ms(c.longestMs),
        ms(c.p50Ms),
        ms(c.p99Ms),
      ]),
    ])
      .split("\n")
      .map((l) => `  ${l}`)
      .join("\n"),
  );
  out.push("", "  invariants");
  for (const i of t.invariants) out.push(`  ${i.holds ? "ok  " : "FAIL"}  ${i.name}: ${i.detail}`);
  for (const b of t.overBudget) out.push(`  FAIL  over budget: ${b}`);
  return `${out.join("\n")}\n`;
}

export function formatAggregate(a: Aggregate, budgets: Budgets): string {
  const out: string[] = [];
  out.push(
    `${a.passed} of ${a.trials} trials passed (budget: no client without service for more than ${budgets.maxOutageMs} ms)`,
  );
  out.push(
    "",
    table([
      ["CLIENT", "LONGEST OUTAGE MEDIAN", "P95", "FAILED REQUESTS MEDIAN", "P95"],
      ...a.clients.map((c) => [
        c.name,
        ms(c.longestMs.median),
        ms(c.longestMs.p95),
        String(c.failures.median),
        String(c.failures.p95),
      ]),
    ]),
  );
  if (a.takeover.length > 0)
    out.push(
      "",
      ...a.takeover.map(
        (t) =>
          `${t.vip} VIP taken over after ${t.ms.median} ms median, ${t.ms.p95} ms p95 (${t.trials} trials)`,
      ),
    );
  return `${out.join("\n")}\n`;
}
