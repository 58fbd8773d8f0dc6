/** Waiting: one sleep and one poll loop for every "until this holds or time runs out" in kubeha. */

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Calls `probe` until it returns true (then true) or `timeoutMs` has passed
 * (then false), `stepMs` apart. The probe always runs at least once.
 */
export async function waitFor(
  probe: () => boolean | Promise<boolean>,
  timeoutMs: number,
  stepMs = 500,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
}
