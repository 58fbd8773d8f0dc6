/** Running local commands (ip, nft, mount, debootstrap ...) with errors that say what failed. */
import { type SpawnSyncOptions, spawnSync } from "node:child_process";
import { ExpectedExit } from "./errors.js";

/** The outcome of a command that may fail without that being an error. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd args`; never throws for a non-zero exit (see `run`). */
export function tryRun(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], ...opts });
  if (r.error) return { code: 127, stdout: "", stderr: `${cmd}: ${r.error.message}` };
  return { code: r.status ?? 128, stdout: String(r.stdout ?? ""), stderr: String(r.stderr ?? "") };
}

/** Runs `cmd args` and returns stdout; a non-zero exit throws with the command and its stderr. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: SpawnSyncOptions & { hint?: string } = {},
): string {
  const r = tryRun(cmd, args, opts);
  if (r.code !== 0) {
    const detail = (r.stderr || r.stdout).trim().split("\n").slice(-5).join("\n  ");
    throw new ExpectedExit(`\`${[cmd, ...args].join(" ")}\` failed (exit ${r.code}): ${detail}`, {
      code: "COMMAND_FAILED",
      ...(opts.hint && { hint: opts.hint }),
    });
  }
  return r.stdout;
}

/** Whether a command exists on PATH. */
export function hasCommand(cmd: string): boolean {
  return tryRun("sh", ["-c", `command -v ${cmd}`]).code === 0;
}
