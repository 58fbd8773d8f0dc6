/**
 * An exclusive lock on a state directory, taken by every command that writes
 * it (`up`, `pki generate`, `certs rotate`), so that two runs never issue
 * certificates or restart services at once. The lock is a file created with
 * O_EXCL holding who took it; a refusal names the holder. A lock left by a
 * process that died (same machine, and that process id no longer runs, or
 * runs a process started later) is taken over: it is renamed away first
 * (atomic, so only one taker wins), checked to be the stale one, removed.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { ExpectedExit } from "./errors.js";
import { ensurePrivateDir } from "./files.js";
import { isAlive, startTime } from "./proc.js";

/** Who holds a lock. */
export interface LockHolder {
  readonly pid: number;
  /** The process's start time, so a reused process id is not mistaken for the holder. */
  readonly start?: number;
  readonly host: string;
  readonly command: string;
  readonly since: string;
}

/** The lock file of a state directory. */
export const lockFile = (stateDir: string) => join(stateDir, "lock");

function readHolder(file: string): LockHolder | undefined | "gone" {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch {
    return "gone";
  }
  try {
    return JSON.parse(text) as LockHolder;
  } catch {
    return undefined; // half written by a process that died at once: unreadable, treated as held
  }
}

const isStale = (h: LockHolder) =>
  h.host === hostname() && (!isAlive(h.pid) || (h.start !== undefined && startTime(h.pid) !== h.start));

/** Takes the stale lock `file` of `holder` away; false when someone else changed it meanwhile. */
function takeOver(file: string, holder: LockHolder): boolean {
  const aside = `${file}.stale-${process.pid}`;
  try {
    renameSync(file, aside);
  } catch {
    return false; // another process took it over first
  }
  const moved = readHolder(aside);
  if (moved !== "gone" && moved !== undefined && moved.pid === holder.pid && moved.since === holder.since) {
    unlinkSync(aside);
    return true;
  }
  // a fresh lock was taken between our read and our rename: put it back unless a newer one exists
  try {
    linkSync(aside, file);
  } catch {
    // a newer lock exists; the one we moved is superseded
  }
  unlinkSync(aside);
  return false;
}

/** Locks `stateDir` for `command`; returns the function that releases it. Refuses, naming the holder, when held. */
export function lockState(stateDir: string, command: string): () => void {
  ensurePrivateDir(stateDir);
  const file = lockFile(stateDir);
  const me: LockHolder = {
    pid: process.pid,
    start: startTime(process.pid),
    host: hostname(),
    command,
    since: new Date().toISOString(),
  };
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      writeFileSync(file, `${JSON.stringify(me)}\n`, { flag: "wx", mode: 0o600 });
      return () => {
        const now = readHolder(file);
        if (now !== "gone" && now?.pid === me.pid && now.since === me.since) unlinkSync(file);
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    const holder = readHolder(file);
    if (holder === "gone") continue;
    if (holder && isStale(holder)) {
      takeOver(file, holder);
      continue;
    }
    const who = holder
      ? `\`${holder.command}\` (pid ${holder.pid} on ${holder.host}) since ${holder.since}`
      : "a process whose lock file cannot be read";
    throw new ExpectedExit(`the state directory ${stateDir} is in use by ${who}`, {
      code: "STATE_LOCKED",
      hint: `wait for it to finish; if that process is gone for good (it ran on another machine, or ${file} is unreadable), remove ${file}`,
    });
  }
  throw new ExpectedExit(`could not lock the state directory ${stateDir}: its lock keeps changing hands`, {
    code: "STATE_LOCKED",
    hint: "another kubeha command is starting against it; try again",
  });
}

/** Runs `fn` with `stateDir` locked for `command`. */
export async function withStateLock<T>(stateDir: string, command: string, fn: () => Promise<T>): Promise<T> {
  const release = lockState(stateDir, command);
  try {
    return await fn();
  } finally {
    release();
  }
}
