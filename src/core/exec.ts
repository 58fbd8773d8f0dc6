/**
 * Running local commands (ip, nft, mount, arping, ssh ...) with errors that
 * say what failed: synchronously for the CLI and the lab, asynchronously for
 * the host daemons, whose event loop must keep turning.
 */
import { execFile, type SpawnSyncOptions, spawnSync } from "node:child_process";
import { ExpectedExit } from "./errors.js";

/** The outcome of a command that may fail without that being an error. */
export interface RunResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Exit code for a command that could not be started (as a shell says). */
const NOT_FOUND = 127;
/** Exit code for a command killed by its timeout (as timeout(1) says). */
const TIMED_OUT = 124;

function failedToRun(cmd: string, err: Error & { code?: unknown }, stdout = "", stderr = ""): RunResult {
  const code = err.code === "ENOENT" ? NOT_FOUND : TIMED_OUT;
  return { code, stdout, stderr: `${stderr}${cmd}: ${err.message}` };
}

/** Runs `cmd args`; never throws for a non-zero exit (see `run`). */
export function tryRun(cmd: string, args: readonly string[], opts: SpawnSyncOptions = {}): RunResult {
  const r = spawnSync(cmd, args, { encoding: "utf8", stdio: ["pipe", "pipe", "pipe"], ...opts });
  const stdout = String(r.stdout ?? "");
  const stderr = String(r.stderr ?? "");
  if (r.error) return failedToRun(cmd, r.error, stdout, stderr);
  return { code: r.status ?? 128, stdout, stderr };
}

/** Like tryRun, without blocking the event loop; killed after `timeoutMs`. */
export function tryRunAsync(cmd: string, args: readonly string[], timeoutMs = 2000): Promise<RunResult> {
  return new Promise((resolve) =>
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (!err) return resolve({ code: 0, stdout, stderr });
      if (typeof err.code === "number") return resolve({ code: err.code, stdout, stderr });
      resolve(err.killed ? { code: TIMED_OUT, stdout, stderr } : failedToRun(cmd, err, stdout, stderr));
    }),
  );
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
