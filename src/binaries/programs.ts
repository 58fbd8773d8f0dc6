/**
 * Programs from a directory or a release tarball, the air-gapped path: the
 * named executables are looked for anywhere below it (a release's own layout,
 * such as `kubernetes/server/bin/`, included), shallowest first.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UsageError } from "../core/errors.js";
import { run } from "../core/exec.js";

function fromDir(dir: string, names: readonly string[], hint: string): Map<string, Buffer> {
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
  if (missing.length > 0) throw new UsageError(`${dir} holds no ${missing.join(", ")}`, { hint });
  return new Map(names.map((n) => [n, readFileSync(found.get(n) as string)]));
}

/** The programs `names` from `path`, a directory or a .tar.gz; a usage error names what is missing. */
export function readPrograms(path: string, names: readonly string[], hint: string): Map<string, Buffer> {
  if (!existsSync(path)) throw new UsageError(`${path} does not exist`, { hint });
  if (statSync(path).isDirectory()) return fromDir(path, names, hint);
  const dir = mkdtempSync(join(tmpdir(), "kubeha-release-"));
  try {
    run("tar", ["-xzf", path, "-C", dir], { hint: `${path} should be a release tarball (.tar.gz); ${hint}` });
    return fromDir(dir, names, hint);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
