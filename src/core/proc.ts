/** Looking at local processes through /proc, without pgrep. */
import { readdirSync, readFileSync } from "node:fs";
import { waitFor } from "./wait.js";

/** A running process: its id, its parent and its command line. */
export interface ProcessInfo {
  readonly pid: number;
  readonly ppid: number;
  readonly argv: readonly string[];
}

function read(pid: number): ProcessInfo | undefined {
  try {
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return { pid, ppid, argv };
  } catch {
    return undefined; // it exited while we looked
  }
}

/** Every process for which `match` holds. */
export function findProcesses(match: (p: ProcessInfo) => boolean): ProcessInfo[] {
  const out: ProcessInfo[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const p = read(Number(entry));
    if (p && match(p)) out.push(p);
  }
  return out;
}

/** When process `pid` started (clock ticks since boot), to tell it from a later process with the same id. */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19]);
  } catch {
    return undefined;
  }
}

/** Whether process `pid` still exists. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Waits until `pid` is gone or `timeoutMs` passes; true when it is gone. */
export function waitExit(pid: number, timeoutMs: number): Promise<boolean> {
  return waitFor(() => !isAlive(pid), timeoutMs, 50);
}
