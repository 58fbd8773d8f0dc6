/**
 * etcd binaries for `source: dir` (a directory or a release tarball, the
 * air-gapped path) and `source: download` (an upstream release by version,
 * checked against its published SHA256SUMS, or a tarball URL checked against
 * the spec's SHA-256; fetched by the operator before anything is uploaded,
 * cached in the state directory). `source: package` needs none: the hosts
 * install Debian's.
 */
import { join, resolve } from "node:path";
import { ExpectedExit } from "../core/errors.js";
import { DigestCache, type LocalFile } from "../core/local-file.js";
import type { EtcdBinaries } from "../spec/defaults.js";
import { fetchVerified, get } from "./fetch.js";
import { readPrograms } from "./programs.js";

/** The programs a member needs; etcdutl (snapshot restore and status) from etcd 3.5 on. */
export interface EtcdProgramFiles {
  readonly etcd: LocalFile;
  readonly etcdctl: LocalFile;
  readonly etcdutl?: LocalFile;
}

const NAMES = ["etcd", "etcdctl"] as const;

/** Where binaries are found: the spec's directory, the state directory and its digest cache. */
export interface BinaryDirs {
  readonly specDir: string;
  readonly stateDir: string;
  /** Default: a cache that lasts this call. */
  readonly digests?: DigestCache;
}

/** The programs `names` at `path` (a directory or tarball) as `dirs` see them. */
export function programsAt(path: string, names: readonly string[], dirs: BinaryDirs, hint: string) {
  return readPrograms(path, names, {
    hint,
    digests: dirs.digests ?? new DigestCache(),
    extractRoot: join(dirs.stateDir, "downloads", "extracted"),
  });
}

function programs(path: string, dirs: BinaryDirs, hint: string): EtcdProgramFiles {
  let found: Map<string, LocalFile>;
  try {
    found = programsAt(path, [...NAMES, "etcdutl"], dirs, hint);
  } catch {
    // releases before 3.5 have no etcdutl; etcdctl restores their snapshots
    found = programsAt(path, NAMES, dirs, hint);
  }
  const etcdutl = found.get("etcdutl");
  return {
    etcd: found.get("etcd") as LocalFile,
    etcdctl: found.get("etcdctl") as LocalFile,
    ...(etcdutl && { etcdutl }),
  };
}

/** The binaries to upload, or undefined when the hosts install the distribution's package. */
export async function etcdPrograms(b: EtcdBinaries, dirs: BinaryDirs): Promise<EtcdProgramFiles | undefined> {
  if (b.source === "package") return undefined;
  if (b.source === "dir")
    return programs(
      resolve(dirs.specDir, b.path),
      dirs,
      "point etcd.binaries.path at an etcd release directory or tarball",
    );
  const { url, sha256, says } = b.url
    ? { url: b.url, sha256: b.sha256 ?? "", says: "the spec says" }
    : await release(b.mirror ?? ETCD_RELEASES, b.version ?? "", b.arch, b.sha256);
  const cache = join(dirs.stateDir, "downloads", `etcd-${sha256}.tar.gz`);
  await fetchVerified(url, sha256, cache, {
    says,
    digests: dirs.digests ?? new DigestCache(),
    hint: b.url
      ? "check etcd.binaries.url and .sha256 against the release's published checksums, or use etcd.binaries.source: dir with a tarball you copied here"
      : "check etcd.binaries.version (and mirror), or use etcd.binaries.source: dir with a tarball you copied here",
  });
  return programs(cache, dirs, "etcd.binaries should name an etcd release tarball");
}

/** etcd's release downloads: BASE/VERSION/etcd-VERSION-linux-ARCH.tar.gz, with BASE/VERSION/SHA256SUMS beside. */
export const ETCD_RELEASES = "https://github.com/etcd-io/etcd/releases/download";

/** A release's tarball URL and its SHA-256: the spec's pin, or the release's published SHA256SUMS. */
async function release(base: string, version: string, arch: string, pinned?: string) {
  const name = `etcd-${version}-linux-${arch}.tar.gz`;
  const dir = `${base.replace(/\/+$/, "")}/${version}`;
  if (pinned) return { url: `${dir}/${name}`, sha256: pinned, says: "the spec says" };
  const sums = (await get(`${dir}/SHA256SUMS`, `check that ${base} has etcd ${version}`)).toString();
  const line = sums.split("\n").find((l) => l.trim().endsWith(` ${name}`) || l.trim().endsWith(`*${name}`));
  const sha256 = line?.trim().split(/\s+/)[0] ?? "";
  if (!/^[0-9a-f]{64}$/.test(sha256)) {
    throw new ExpectedExit(`${dir}/SHA256SUMS lists no SHA-256 for ${name}`, {
      code: "CHECKSUM_MISMATCH",
      hint: `check etcd.binaries.version and arch: ${version}, ${arch}`,
    });
  }
  return { url: `${dir}/${name}`, sha256, says: "its published SHA256SUMS say" };
}

/** The etcd version a source installs, when it says: a release version, or one in a tarball URL's name. */
export function etcdVersionOf(b: EtcdBinaries): string | undefined {
  if (b.source !== "download") return undefined;
  return b.version ?? /etcd-(v3\.\d+\.\d+)-/.exec(b.url ?? "")?.[1];
}
