/** File and service operations on a host, each one command over the transport. */
import { gzipSync } from "node:zlib";
import { HostError, InternalError } from "../core/errors.js";
import { sha256 } from "../core/hash.js";
import { DIGEST_DIR, PENDING_DIR } from "../core/host-paths.js";
import { bytesOf, type Content, type LocalFile, lengthOf } from "../core/local-file.js";
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
const compressed = new WeakMap<Buffer | LocalFile, Buffer>();

/** Where the digest of the file at `path` is recorded. */
const digestFile = (path: string) => `${DIGEST_DIR}/${sha256(path).slice(0, 32)}`;

/**
 * The state of many files in one round trip and a handful of processes (a
 * no-op `up` asks for every file kubeha manages on every host): one `stat`
 * for all, one `sha256sum` for those without a digest record, the records
 * read by the shell itself. A record that no longer matches its file's
 * size, modification time and inode is not trusted: those few files are
 * hashed in a second round trip. `verify` hashes every file.
 */
export async function statFiles(
  t: Transport,
  paths: readonly string[],
  opts: { verify?: boolean } = {},
): Promise<Map<string, RemoteFile>> {
  if (paths.length === 0) return new Map();
  return readStats(t, paths, (await t.exec(statScript(paths, opts))).stdout);
}

/** statFiles' first round trip, to run alone or after another script. */
export function statScript(paths: readonly string[], opts: { verify?: boolean } = {}): string {
  if (paths.length === 0) return "true";
  if (paths.some((p) => p.includes("'") || p.includes("\n")))
    throw new InternalError(`a managed path with a quote or newline: ${paths.join(", ")}`);
  const pairs = paths.flatMap((p) => [shq(p), shq(digestFile(p))]).join(" ");
  const record = opts.verify ? "false" : `[ -f "$2" ] && read -r rec < "$2"`;
  return `set -- ${pairs}; l=; while [ $# -gt 0 ]; do if [ -f "$1" ]; then if ${record}; then printf 'R %s %s\\n' "$rec" "$1"; else l="$l '$1'"; fi; fi; shift 2; done; stat -c 'S %a %s %.9Y %i %n' -- ${paths.map(shq).join(" ")} 2>/dev/null; [ -z "$l" ] || eval "sha256sum -- $l" | sed 's/^/H /'`;
}

/** The files at `paths` from statScript's output `out`; stale digest records are hashed in a second trip. */
export async function readStats(
  t: Transport,
  paths: readonly string[],
  out: string,
): Promise<Map<string, RemoteFile>> {
  const files = new Map<string, RemoteFile>();
  const stats = new Map<string, { mode: number; id: string }>();
  const records = new Map<string, string>();
  const hashes = new Map<string, string>();
  for (const line of out.split("\n")) {
    const [kind, ...f] = line.split(" ");
    if (kind === "S" && f.length >= 5) {
      stats.set(f.slice(4).join(" "), { mode: Number.parseInt(f[0] ?? "0", 8), id: f.slice(1, 4).join(" ") });
    } else if (kind === "R" && f.length >= 5) {
      records.set(f.slice(4).join(" "), `${f.slice(0, 3).join(" ")} ${f[3]}`);
    } else if (kind === "H") {
      const m = /^([0-9a-f]{64}) [ *](.*)$/.exec(f.join(" "));
      if (m) hashes.set(m[2] ?? "", m[1] ?? "");
    }
  }
  // a record is trusted while the file's size, modification time and inode are what they were
  const stale: string[] = [];
  for (const [path, st] of stats) {
    const rec = records.get(path);
    if (hashes.has(path) || !rec) continue;
    const sum = rec.slice(rec.lastIndexOf(" ") + 1);
    if (rec === `${st.id} ${sum}`) hashes.set(path, sum);
    else stale.push(path);
  }
  if (stale.length > 0) {
    for (const line of (await must(t, `sha256sum -- ${stale.map(shq).join(" ")}`)).split("\n")) {
      const m = /^([0-9a-f]{64}) [ *](.*)$/.exec(line);
      if (m) hashes.set(m[2] ?? "", m[1] ?? "");
    }
  }
  for (const p of paths) {
    const st = stats.get(p);
    const h = hashes.get(p);
    files.set(p, st && h ? { sha256: h, mode: st.mode } : null);
  }
  return files;
}

/** Writes `content` to `path` atomically with `mode`; missing parent directories are made 0700. */
export async function writeFile(t: Transport, path: string, content: Content, mode: number): Promise<void> {
  const tmp = `${path}.kubeha-tmp`;
  const m = mode.toString(8).padStart(4, "0");
  let body: string | Buffer | undefined;
  let receive = "cat";
  let record = "";
  if (typeof content !== "string" && lengthOf(content) > LARGE) {
    body = compressed.get(content) ?? gzipSync(bytesOf(content), { level: 1 });
    compressed.set(content, body);
    receive = "gzip -dc";
    record = `; mkdir -p -m 0700 ${DIGEST_DIR}; printf '%s %s\\n' "$(stat -c '%s %.9Y %i' ${shq(path)})" ${sha256(content)} > ${shq(digestFile(path))}`;
  }
  const script = `set -e; mkdir -p -m 0700 "$(dirname ${shq(path)})"; umask 077; ${receive} > ${shq(tmp)}; chmod ${m} ${shq(tmp)}; mv -f ${shq(tmp)} ${shq(path)}${record}`;
  await must(t, script, body ?? bytesOf(content));
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
