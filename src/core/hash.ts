/** Digests of local content, to compare with what hosts, mirrors and caches hold. */
import { createHash } from "node:crypto";
import { LocalFile } from "./local-file.js";

const hashes = new WeakMap<Buffer, string>();

/** The SHA-256 of `content`, hex; a Buffer is hashed once (the ~100 MB agent executable goes to every host). */
export function sha256(content: string | Buffer | LocalFile): string {
  if (content instanceof LocalFile) return content.sha256;
  if (typeof content === "string") return createHash("sha256").update(content).digest("hex");
  let hash = hashes.get(content);
  if (!hash) {
    hash = createHash("sha256").update(content).digest("hex");
    hashes.set(content, hash);
  }
  return hash;
}
