/** File and service operations on a host, each one command over the transport. */
import { gzipSync } from "node:zlib";
import { HostError } from "../core/errors.js";
import { sha256 } from "../core/hash.js";
import { DIGEST_DIR, PENDING_DIR } from "../core/host-paths.js";
import { shq } from "../core/shell.js";
import type { Transport } from "../transport/transport.js";

/** What a file on a host is: its sha256 and mode, or absent. */
export type RemoteFile = { readonly sha256: string; readonly mode: number } | null;

/** Runs `command` and returns stdout; a non-zero exit is a HostError naming the command and its stderr. */
export async function must(t: Transport, command: string, stdin?: string | Buffer): Promise<string> {
  const r = await t.exec(command, stdin === undefined ? {} : { stdin });
  if (r.code !== 0) {
    const shown = command.length > 120 ? `${command.slice(0, 117)}...` : command;
    const why = (r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ");
    throw new HostError(t.host, "", `\`${shown}\` exited ${r.code}: ${why}`);
  }
  return r.stdout;
}

/**
 * Files above this size are large: they travel gzip-compressed (the agent
 * executable: ~100 MB, ~35 MB compressed), and their digest is recorded on
 * the host when kubeha writes them, with the file's size, modification time
 * and inode. A later run trusts the recorded digest while those three still
 * match instead of hashing ~100 MB on every host again (the bulk of a no-op
 * run); `up --verify` hashes everything.
 */
const LARGE = 1 << 20;
const compressed = new WeakMap<Buffer, Buffer>();

/** Where the digest of the file at `path` is recorded. */
const digestFile = (path: string) => `${DIGEST_DIR}/${sha256(path).slice(0, 32)}`;

/** The state of many files in one round trip; `verify` hashes every file, trusting no recorded digest. */
export async function statFiles(
  t: Transport,
  paths: readonly string[],
  opts: { verify?: boolean } = {},
): Promise<Map<string, RemoteFile>> {
  const out = new Map<string, RemoteFile>();
  if (paths.length === 0) return out;
  const pairs = paths.flatMap((p) => [shq(p), shq(digestFile(p))]).join(" ");
  const trusted = opts.verify
    ? ""
    : `[ -f "$d" ] && read -r size mtime inode sum < "$d" && [ "$size $mtime $inode" = "$id" ] && h=$sum; `;
  const script = `set -- ${pairs}; while [ $# -gt 0 ]; do p=$1; d=$2; shift 2; if [ -f "$p" ]; then id=$(stat -c '%s %.9Y %i' "$p"); h=; ${trusted}[ -n "$h" ] || h=$(sha256sum < "$p" | cut -d' ' -f1); printf '%s %s %s\\n' "$h" "$(stat -c %a "$p")" "$p"; else printf -- '- - %s\\n' "$p"; fi; done`;
  for (const line of (await must(t, script)).split("\n")) {
    const [hash, mode, ...rest] = line.split(" ");
    const path = rest.join(" ");
    if (!path) continue;
    out.set(path, hash === "-" ? null : { sha256: hash ?? "", mode: Number.parseInt(mode ?? "0", 8) });
  }
  return out;
}

/** Writes `content` to `path` atomically with `mode`; missing parent directories are made 0700. */
export async function writeFile(
  t: Transport,
  path: string,
  content: string | Buffer,
  mode: number,
): Promise<void> {
  const tmp = `${path}.kubeha-tmp`;
  const m = mode.toString(8).padStart(4, "0");
  let body = content;
  let receive = "cat";
  let record = "";
  if (Buffer.isBuffer(content) && content.length > LARGE) {
    body = compressed.get(content) ?? gzipSync(content, { level: 1 });
    compressed.set(content, body);
    receive = "gzip -dc";
    record = `; mkdir -p -m 0700 ${DIGEST_DIR}; printf '%s %s\\n' "$(stat -c '%s %.9Y %i' ${shq(path)})" ${sha256(content)} > ${shq(digestFile(path))}`;
  }
  const script = `set -e; mkdir -p -m 0700 "$(dirname ${shq(path)})"; umask 077; ${receive} > ${shq(tmp)}; chmod ${m} ${shq(tmp)}; mv -f ${shq(tmp)} ${shq(path)}${record}`;
  await must(t, script, body);
}

/** Records that `actions` are owed on the host, before the change that needs them. */
export async function markPending(t: Transport, actions: readonly string[]): Promise<void> {
  await must(
    t,
    `mkdir -p -m 0700 ${PENDING_DIR} && touch ${actions.map((a) => `${PENDING_DIR}/${a}`).join(" ")}`,
  );
}

/** Clears owed actions once done. */
export async function clearPending(t: Transport, actions: readonly string[]): Promise<void> {
  await must(t, `rm -f ${actions.map((a) => `${PENDING_DIR}/${a}`).join(" ")}`);
}
