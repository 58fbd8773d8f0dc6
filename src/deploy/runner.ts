/**
 * The phase runner, after k0sctl's phase manager: a command is an ordered
 * list of phases over one context. A phase may say whether it has anything to
 * do (`shouldRun`), that it is left out of dry runs (it only checks what a
 * real run did), and what to tidy up afterwards (`cleanup`, run for every
 * phase that started, last first, whether the command succeeded or not).
 * Every failure on a host leaves the runner as a MultiHostError naming the
 * phase, the host and the cause (exit 1), never as a bug.
 */
import { HostError, MultiHostError } from "../core/errors.js";
import type { ClusterContext } from "./context.js";

/** One step of a command. */
export interface Phase<C extends ClusterContext = ClusterContext> {
  /** Shown as the phase header: "Configure etcd". */
  readonly title: string;
  run(ctx: C): Promise<void>;
  /** Whether the phase has anything to do in this run; it is skipped quietly otherwise. */
  shouldRun?(ctx: C): boolean;
  /** "skip": a dry run leaves it out (it verifies what a real run did). */
  readonly dryRun?: "skip";
  /** Tidies up after the command, whatever its outcome. */
  cleanup?(ctx: C): Promise<void> | void;
}

/** Runs `phases` in order over `ctx`. */
export async function runPhases<C extends ClusterContext>(
  phases: readonly Phase<C>[],
  ctx: C,
): Promise<void> {
  const started: Phase<C>[] = [];
  try {
    for (const phase of phases) {
      if (ctx.dryRun && phase.dryRun === "skip") continue;
      if (phase.shouldRun && !phase.shouldRun(ctx)) continue;
      ctx.phase = phase.title;
      ctx.report.phase(phase.title);
      started.push(phase);
      const t0 = performance.now();
      try {
        await phase.run(ctx);
      } catch (err) {
        if (err instanceof HostError) throw new MultiHostError(phase.title, [err.inPhase(phase.title)]);
        throw err;
      }
      if (process.env.KUBEHA_TIMINGS)
        process.stderr.write(`${phase.title}: ${Math.round(performance.now() - t0)} ms\n`);
    }
  } finally {
    for (const phase of started.reverse()) {
      try {
        await phase.cleanup?.(ctx);
      } catch (err) {
        ctx.report.info(`clean-up after "${phase.title}" failed: ${(err as Error).message}`);
      }
    }
  }
}
