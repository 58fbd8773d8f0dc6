/**
 * Downloads on the operator's machine, checked before use and cached in the
 * state directory, so hosts need no internet and a re-run needs no network:
 * a cached file is used only while it still has the digest it was checked
 * against (core/local-file.ts: hashed again only when the file changed). A
 * mismatch or a missing file is refused and nothing is cached.
 */
import { existsSync } from "node:fs";
import { ExpectedExit } from "../core/errors.js";
import { writeFileAtomic } from "../core/files.js";
import { sha256 as sha256Of } from "../core/hash.js";
import type { DigestCache, LocalFile } from "../core/local-file.js";

const TIMEOUT_MS = 120_000;

/** GETs `url`; a failure names the URL and what to do. */
export async function get(url: string, hint: string): Promise<Buffer> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return Buffer.from(await res.arrayBuffer());
  } catch (cause) {
    throw new ExpectedExit(`cannot download ${url}: ${(cause as Error).message}`, {
      code: "DOWNLOAD_FAILED",
      cause,
      hint,
    });
  }
}

/** The cached file at `cache` when it has digest `sha256`. */
export function cached(cache: string, sha256: string, digests: DigestCache): LocalFile | undefined {
  if (!existsSync(cache)) return undefined;
  const file = digests.of(cache);
  return file.sha256 === sha256 ? file : undefined;
}

/** `url`'s content, verified to have digest `sha256` (what `says` it must be), cached at `cache`. */
export async function fetchVerified(
  url: string,
  sha256: string,
  cache: string,
  opts: { says: string; hint: string; digests: DigestCache },
): Promise<LocalFile> {
  const hit = cached(cache, sha256, opts.digests);
  if (hit) return hit;
  const body = await get(url, opts.hint);
  const got = sha256Of(body);
  if (got !== sha256) {
    throw new ExpectedExit(
      `the download of ${url} has SHA-256 ${got}, ${opts.says} ${sha256}: refusing to use it`,
      {
        code: "CHECKSUM_MISMATCH",
        hint: opts.hint,
      },
    );
  }
  writeFileAtomic(cache, body, 0o644);
  return opts.digests.of(cache);
}
