/**
 * SSH host keys pinned on first use. Keys come from the spec's
 * `ssh.knownHostsPath` (read-only, e.g. the lab's) and from the state
 * directory's own `known_hosts`, where kubeha records a host's key the first
 * time it connects. A key that differs from the pinned one is refused.
 */
import { createHash } from "node:crypto";
import { appendFileSync, existsSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { ensurePrivateDir } from "../core/files.js";

/** One pinned key. */
export interface PinnedKey {
  readonly type: string;
  /** The key blob, base64 as in known_hosts. */
  readonly key: string;
  readonly file: string;
}

/** The SHA256 fingerprint OpenSSH shows for a key blob. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** Pinned keys for `names` (address and host name) from the given known_hosts files. */
export function pinnedKeys(files: readonly string[], names: readonly string[]): PinnedKey[] {
  const out: PinnedKey[] = [];
  for (const file of files) {
    if (!existsSync(file)) continue;
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const [hosts, type, key] = line.trim().split(/\s+/);
      if (!hosts || !type || !key || hosts.startsWith("#") || hosts.startsWith("|")) continue;
      const listed = hosts.split(",").map((h) => h.replace(/^\[(.*)\]:\d+$/, "$1"));
      if (listed.some((h) => names.includes(h))) out.push({ type, key, file });
    }
  }
  return out;
}

/** Records `blob` as the pinned key of `names` in the state directory's known_hosts. */
export function pinKey(file: string, names: readonly string[], blob: Buffer): void {
  ensurePrivateDir(dirname(file));
  appendFileSync(file, `${names.join(",")} ${keyType(blob)} ${blob.toString("base64")}\n`, { mode: 0o600 });
}

/** The key type named inside an SSH public key blob. */
export function keyType(blob: Buffer): string {
  return blob.subarray(4, 4 + blob.readUInt32BE(0)).toString();
}
