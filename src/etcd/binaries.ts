/**
 * etcd binaries for `source: dir` (a directory or a release tarball, the
 * air-gapped path) and `source: download` (fetched by the operator, checked
 * against the spec's SHA-256 before anything is uploaded, cached in the state
 * directory). `source: package` needs none: the hosts install Debian's.
 */
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { ExpectedExit, UsageError } from "../core/errors.js";
import { run } from "../core/exec.js";
import { writeFileAtomic } from "../core/files.js";
import type { EtcdBinaries } from "../spec/defaults.js";

/** The two programs a member needs. */
export interface EtcdProgramFiles {
  readonly etcd: Buffer;
  readonly etcdctl: Buffer;
}

function fromDir(dir: string): EtcdProgramFiles {
  const found = new Map<string, string>();
  for (const rel of readdirSync(dir, { recursive: true }).map(String)) {
    const name = rel.split("/").at(-1) ?? "";
    if ((name === "etcd" || name === "etcdctl") && !found.has(name) && statSync(join(dir, rel)).isFile())
      found.set(name, join(dir, rel));
  }
  const etcd = found.get("etcd");
  const etcdctl = found.get("etcdctl");
  if (!etcd || !etcdctl) {
    throw new UsageError(`${dir} holds no ${etcd ? "etcdctl" : "etcd"} binary`, {
      hint: "point etcd.binaries.path at an etcd release directory or tarball",
    });
  }
  return { etcd: readFileSync(etcd), etcdctl: readFileSync(etcdctl) };
}

function fromTarball(file: string): EtcdProgramFiles {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-etcd-"));
  try {
    run("tar", ["-xzf", file, "-C", dir], { hint: `${file} should be an etcd release tarball (.tar.gz)` });
    return fromDir(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function download(url: string, sha256: string, stateDir: string): Promise<string> {
  const cached = join(stateDir, "downloads", `etcd-${sha256}.tar.gz`);
  const hash = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  if (existsSync(cached) && hash(readFileSync(cached)) === sha256) return cached;
  let body: Buffer;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(120_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    body = Buffer.from(await res.arrayBuffer());
  } catch (cause) {
    throw new ExpectedExit(`cannot download etcd from ${url}: ${(cause as Error).message}`, {
      code: "DOWNLOAD_FAILED",
      cause,
      hint: "check the URL, or use etcd.binaries.source: dir with a tarball you copied here",
    });
  }
  const got = hash(body);
  if (got !== sha256) {
    throw new ExpectedExit(
      `the download of ${url} has SHA-256 ${got}, the spec says ${sha256}: refusing to use it`,
      {
        code: "CHECKSUM_MISMATCH",
        hint: "check etcd.binaries.sha256 against the release's published checksums",
      },
    );
  }
  writeFileAtomic(cached, body, 0o644);
  return cached;
}

/** The binaries to upload, or undefined when the hosts install the distribution's package. */
export async function etcdPrograms(
  b: EtcdBinaries,
  dirs: { specDir: string; stateDir: string },
): Promise<EtcdProgramFiles | undefined> {
  if (b.source === "package") return undefined;
  if (b.source === "download") return fromTarball(await download(b.url, b.sha256, dirs.stateDir));
  const path = resolve(dirs.specDir, b.path);
  if (!existsSync(path)) throw new UsageError(`etcd.binaries.path ${path} does not exist`);
  return statSync(path).isDirectory() ? fromDir(path) : fromTarball(path);
}
