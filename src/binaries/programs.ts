/**
 * Programs from a directory or a release tarball, the air-gapped path: the
 * named executables are looked for anywhere below it (a release's own layout,
 * such as `kubernetes/server/bin/`, included), shallowest first. A tarball's
 * programs are extracted once into the state directory, under the tarball's
 * digest, so a re-run neither decompresses nor re-hashes hundreds of MB.
 */
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { UsageError } from "../core/errors.js";
import { tryRun } from "../core/exec.js";
import { sha256 } from "../core/hash.js";
import type { DigestCache, LocalFile } from "../core/local-file.js";

function fromDir(dir: string, names: readonly string[], hint: string, digests: DigestCache, label = dir) {
  const found = new Map<string, string>();
  const files = readdirSync(dir, { recursive: true })
    .map(String)
    .sort((a, b) => a.split("/").length - b.split("/").length || a.localeCompare(b));
  for (const rel of files) {
    const name = rel.split("/").at(-1) ?? "";
    if (names.includes(name) && !found.has(name) && statSync(join(dir, rel)).isFile())
      found.set(name, join(dir, rel));
  }
  const missing = names.filter((n) => !found.has(n));
  if (missing.length > 0) throw new UsageError(`${label} holds no ${missing.join(", ")}`, { hint });
  return new Map(names.map((n) => [n, digests.of(found.get(n) as string)]));
}

/** Extracts the members of `tarball` named `names` (at any depth) into `dir`, once. */
function extractOnce(tarball: string, names: readonly string[], dir: string, hint: string): void {
  const done = join(dir, ".complete");
  if (existsSync(done)) return;
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  try {
    const r = tryRun("tar", ["-xzf", tarball, "-C", tmp, "--wildcards", "--no-anchored", ...names]);
    // a name the tarball lacks is named below; anything else means it is no tarball
    if (r.code !== 0 && !/Not found in archive/.test(r.stderr)) {
      throw new UsageError(`${tarball} cannot be read as a release tarball (.tar.gz): ${r.stderr.trim()}`, {
        hint,
      });
    }
    writeFileSync(join(tmp, ".complete"), "");
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * The programs `names` from `path`, a directory or a .tar.gz (extracted under
 * `extractRoot`); a usage error names what is missing.
 */
export function readPrograms(
  path: string,
  names: readonly string[],
  opts: { hint: string; digests: DigestCache; extractRoot: string },
): Map<string, LocalFile> {
  const { hint, digests } = opts;
  if (!existsSync(path)) throw new UsageError(`${path} does not exist`, { hint });
  if (statSync(path).isDirectory()) return fromDir(path, names, hint, digests);
  const key = sha256(`${digests.of(path).sha256} ${names.join(" ")}`).slice(0, 24);
  const dir = join(opts.extractRoot, key);
  extractOnce(path, names, dir, hint);
  return fromDir(dir, names, hint, digests, path);
}
