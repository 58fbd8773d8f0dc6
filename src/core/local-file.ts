/**
 * Large local files that go to hosts (the host executable, release binaries,
 * etcd's): a run needs their digests to compare with what hosts have, and
 * their bytes only when it writes them somewhere. Reading and hashing ~100 MB
 * per binary on every run would cost a no-op `up` a second or more, so each
 * digest is kept in a cache file (the state directory's `digests`) and
 * trusted while the file's size, modification time and inode are what they
 * were — the same rule hosts apply to their own digest records.
 */
import { createHash } from "node:crypto";
import { closeSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { LineCache } from "./line-cache.js";

/** A local file to upload: its digest known, its bytes read on demand. */
export class LocalFile {
  constructor(
    readonly path: string,
    readonly size: number,
    readonly sha256: string,
  ) {}

  read(): Buffer {
    return readFileSync(this.path);
  }
}

/** What kubeha writes to hosts and into renderings. */
export type Content = string | Buffer | LocalFile;

/** The bytes of `content` (a LocalFile is read now). */
export const bytesOf = (content: Content): string | Buffer =>
  content instanceof LocalFile ? content.read() : content;

/** The length of `content` in bytes. */
export const lengthOf = (content: Content): number =>
  content instanceof LocalFile ? content.size : Buffer.byteLength(content);

/** What a file's digest is trusted by: size, modification time (ns) and inode. */
const identity = (path: string) => {
  const st = statSync(path, { bigint: true });
  return { size: Number(st.size), id: `${st.size} ${st.mtimeNs} ${st.ino}` };
};

/** SHA-256 of a file, read in chunks (no 100 MB buffer). */
function hashFile(path: string): string {
  const hash = createHash("sha256");
  const fd = openSync(path, "r");
  try {
    const chunk = Buffer.allocUnsafe(4 << 20);
    for (let n = readSync(fd, chunk); n > 0; n = readSync(fd, chunk)) hash.update(chunk.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/** Digests of local files, kept in `file` (see LineCache): PATH -> "SIZE MTIME INODE SHA256". */
export class DigestCache {
  private readonly cache: LineCache;

  constructor(file?: string) {
    this.cache = new LineCache(file);
  }

  /** `path` as a LocalFile, hashed only when the cache has no record matching the file as it is now. */
  of(path: string): LocalFile {
    const abs = resolve(path);
    const { size, id } = identity(abs);
    const rec = this.cache.get(abs);
    if (rec?.startsWith(`${id} `)) return new LocalFile(abs, size, rec.slice(id.length + 1));
    const sha256 = hashFile(abs);
    // a file changed while it was hashed gets no record: the next run hashes it again
    if (identity(abs).id === id) this.cache.set(abs, `${id} ${sha256}`);
    return new LocalFile(abs, size, sha256);
  }

  /** Writes the cache back. */
  save(): void {
    this.cache.save();
  }
}
