/**
 * etcd snapshots on a member host: taking one into a file (etcdctl, over
 * the member's mutual TLS), reading what etcd says of a snapshot file,
 * listing the ones kept there, and the restore command. etcd 3.5 moved
 * `snapshot status` and `restore` to etcdutl (3.6 dropped them from
 * etcdctl); the commands use etcdutl where the host has it, etcdctl
 * otherwise (Debian's 3.4).
 */

import { HostError } from "../core/errors.js";
import { ETCD_SNAPSHOT_DIR } from "../core/host-paths.js";
import { shq } from "../core/shell.js";
import type { Transport } from "../transport/transport.js";
import { etcdctlCommand } from "./etcdctl.js";

/** The offline snapshot tool of the host, as a shell word. */
export const SNAPSHOT_TOOL = `$(command -v etcdutl || echo etcdctl)`;

/** What `snapshot status -w json` says. */
export interface SnapshotStatus {
  readonly hash: number;
  readonly revision: number;
  readonly totalKey: number;
  readonly totalSize: number;
}

/** The shell command that saves a snapshot of the local member to `file` (0600, through a .part file). */
export const saveCommand = (file: string) =>
  `umask 077 && mkdir -p -m 0700 ${shq(ETCD_SNAPSHOT_DIR)} && ${etcdctlCommand(`--command-timeout=600s snapshot save ${shq(file)}`)} >/dev/null`;

/** The command that prints `snapshot status -w json` of `file`. */
export const statusCommand = (file: string) =>
  `ETCDCTL_API=3 ${SNAPSHOT_TOOL} snapshot status ${shq(file)} -w json 2>/dev/null`;

/** Parses `snapshot status -w json`. */
export function parseSnapshotStatus(text: string): SnapshotStatus {
  const s = JSON.parse(text.trim().split("\n").pop() ?? "{}") as Partial<SnapshotStatus>;
  return {
    hash: Number(s.hash ?? 0),
    revision: Number(s.revision ?? 0),
    totalKey: Number(s.totalKey ?? 0),
    totalSize: Number(s.totalSize ?? 0),
  };
}

/** Runs `command`; its stdout, or a HostError with the end of its stderr. */
async function run(t: Transport, command: string): Promise<string> {
  const r = await t.exec(command, { timeoutMs: 600_000 });
  if (r.code !== 0)
    throw new HostError(
      t.host,
      "",
      `${command.includes("snapshot save") ? "snapshot save" : "snapshot status"} failed: ${(r.stderr || r.stdout).trim().split("\n").slice(-2).join(" / ")}`,
    );
  return r.stdout;
}

/** Takes a snapshot of the member on `t` into a temporary file and returns its bytes and etcd's account of it; the file is removed. */
export async function streamSnapshot(t: Transport): Promise<{ db: Buffer; status: SnapshotStatus }> {
  const file = `${ETCD_SNAPSHOT_DIR}/.operator-${process.pid}-${Date.now()}.db`;
  try {
    await run(t, saveCommand(file));
    const status = parseSnapshotStatus(await run(t, statusCommand(file)));
    const r = await t.execBytes(`cat ${shq(file)}`, { timeoutMs: 600_000 });
    if (r.code !== 0) throw new HostError(t.host, "", `reading ${file}: ${r.stderr.trim()}`);
    return { db: r.stdout, status };
  } finally {
    await t.exec(`rm -f ${shq(file)} ${shq(`${file}.part`)}`);
  }
}

/** A snapshot kept on a host. */
export interface HostSnapshot {
  readonly host: string;
  readonly name: string;
  readonly size: number;
  /** Seconds since the epoch. */
  readonly mtime: number;
}

/** The command listing the snapshots kept on a host: "mtime size name" lines. */
export const LIST_COMMAND = `find ${ETCD_SNAPSHOT_DIR} -maxdepth 1 -name '*.db' ! -name '.*' -printf '%T@ %s %f\\n' 2>/dev/null`;

/** Parses LIST_COMMAND's output, newest first. */
export function parseHostSnapshots(host: string, text: string): HostSnapshot[] {
  return text
    .split("\n")
    .map((l) => l.trim().split(" "))
    .filter((p) => p.length === 3)
    .map(([mtime = "0", size = "0", name = ""]) => ({ host, name, size: Number(size), mtime: Number(mtime) }))
    .sort((a, b) => b.mtime - a.mtime);
}
