/**
 * etcd binaries for `source: dir` (a directory or a release tarball, the
 * air-gapped path) and `source: download` (fetched by the operator, checked
 * against the spec's SHA-256 before anything is uploaded, cached in the state
 * directory). `source: package` needs none: the hosts install Debian's.
 */
import { join, resolve } from "node:path";
import type { EtcdBinaries } from "../spec/defaults.js";
import { fetchVerified } from "./fetch.js";
import { readPrograms } from "./programs.js";

/** The two programs a member needs. */
export interface EtcdProgramFiles {
  readonly etcd: Buffer;
  readonly etcdctl: Buffer;
}

const NAMES = ["etcd", "etcdctl"] as const;

function programs(path: string, hint: string): EtcdProgramFiles {
  const found = readPrograms(path, NAMES, hint);
  return { etcd: found.get("etcd") as Buffer, etcdctl: found.get("etcdctl") as Buffer };
}

/** The binaries to upload, or undefined when the hosts install the distribution's package. */
export async function etcdPrograms(
  b: EtcdBinaries,
  dirs: { specDir: string; stateDir: string },
): Promise<EtcdProgramFiles | undefined> {
  if (b.source === "package") return undefined;
  if (b.source === "dir")
    return programs(
      resolve(dirs.specDir, b.path),
      "point etcd.binaries.path at an etcd release directory or tarball",
    );
  const cache = join(dirs.stateDir, "downloads", `etcd-${b.sha256}.tar.gz`);
  await fetchVerified(b.url, b.sha256, cache, {
    says: "the spec says",
    hint: "check etcd.binaries.url and .sha256 against the release's published checksums, or use etcd.binaries.source: dir with a tarball you copied here",
  });
  return programs(cache, "etcd.binaries.url should be an etcd release tarball");
}
