// What the benchmarks share: the CLI, a sleep and the statistics they print.
import { spawnSync } from "node:child_process";

export const bin = new URL("../bin/kubeha.js", import.meta.url).pathname;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The middle value (the upper of the two for an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const p95 = (xs) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];

/** Runs the kubeha CLI and returns its output; throws with the output when it fails. */
export function kubeha(...args) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kubeha ${args.join(" ")} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}
