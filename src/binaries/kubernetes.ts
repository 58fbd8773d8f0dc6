/**
 * The Kubernetes binaries of one release, fetched on the operator's machine
 * (hosts need no internet), for `kubernetes.binaries.source`:
 *
 * - `download`: each binary from the release server's per-binary URL,
 *   `BASE/VERSION/bin/linux/ARCH/NAME`, checked against its published
 *   SHA-256 (`NAME.sha256` beside it holds only the hex digest) before it is
 *   used, and cached in the state directory with that digest, so a re-run
 *   needs no network. BASE is https://dl.k8s.io/release, or the spec's
 *   `mirror` (an internal mirror with the same layout).
 * - `dir`: a directory of binaries, or the release's
 *   `kubernetes-server-linux-ARCH.tar.gz` (its `kubernetes/server/bin/`).
 *
 * A checksum mismatch or a missing file refuses the whole set: nothing is
 * cached for that binary and nothing is installed.
 */
import { join, resolve } from "node:path";
import { ExpectedExit } from "../core/errors.js";
import { readIfExists, writeFileAtomic } from "../core/files.js";
import { DigestCache, type LocalFile } from "../core/local-file.js";
import { type BinaryDirs, programsAt } from "./etcd.js";
import { cached, fetchVerified, get } from "./fetch.js";

/** The official release server. */
export const RELEASE_BASE = "https://dl.k8s.io/release";

/** The release binaries kubeha installs: the control plane's, the node's, and kubectl. */
export const RELEASE_BINARIES = [
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubelet",
  "kube-proxy",
  "kubectl",
] as const;

/** Where the binaries of a release come from. */
export type KubernetesSource =
  | { readonly source: "download"; readonly mirror?: string }
  | { readonly source: "dir"; readonly path: string };

/** What to fetch: the release, the machines' architecture, the binaries. */
export interface ReleaseRequest {
  readonly version: string;
  /** Debian's name for it: amd64, arm64. */
  readonly arch: string;
  readonly names: readonly string[];
}

/** The per-binary URL of `name` in a release. */
export const binaryUrl = (base: string, version: string, arch: string, name: string) =>
  `${base.replace(/\/+$/, "")}/${version}/bin/linux/${arch}/${name}`;

/** Where a downloaded binary and its checked digest are cached in the state directory. */
const cacheOf = (stateDir: string, r: ReleaseRequest, name: string) =>
  join(stateDir, "downloads", "kubernetes", r.version, `linux-${r.arch}`, name);

async function download(
  base: string,
  r: ReleaseRequest,
  stateDir: string,
  digests: DigestCache,
): Promise<Map<string, LocalFile>> {
  const hint =
    base === RELEASE_BASE
      ? "check the version and the network, or use kubernetes.binaries.source: dir with the release's server tarball"
      : `check that the mirror ${base} has the release's layout (VERSION/bin/linux/ARCH/NAME and NAME.sha256)`;
  const out = new Map<string, LocalFile>();
  for (const name of r.names) {
    const cache = cacheOf(stateDir, r, name);
    const known = readIfExists(`${cache}.sha256`)?.trim();
    const hit = known && cached(cache, known, digests);
    if (hit) {
      out.set(name, hit);
      continue;
    }
    const url = binaryUrl(base, r.version, r.arch, name);
    const published = (await get(`${url}.sha256`, hint)).toString().trim().split(/\s+/)[0] ?? "";
    if (!/^[0-9a-f]{64}$/.test(published)) {
      throw new ExpectedExit(`${url}.sha256 does not hold a SHA-256 digest`, {
        code: "CHECKSUM_MISMATCH",
        hint,
      });
    }
    out.set(
      name,
      await fetchVerified(url, published, cache, { says: "its published checksum is", hint, digests }),
    );
    writeFileAtomic(`${cache}.sha256`, `${published}\n`, 0o644);
  }
  return out;
}

/** The binaries `request` names, from `source`; relative paths are resolved against `specDir`. */
export async function kubernetesBinaries(
  source: KubernetesSource,
  request: ReleaseRequest,
  dirs: BinaryDirs,
): Promise<Map<string, LocalFile>> {
  const digests = dirs.digests ?? new DigestCache();
  if (source.source === "download")
    return download(source.mirror ?? RELEASE_BASE, request, dirs.stateDir, digests);
  return programsAt(
    resolve(dirs.specDir, source.path),
    request.names,
    dirs,
    `point kubernetes.binaries.path at a directory of ${request.version} binaries or kubernetes-server-linux-${request.arch}.tar.gz`,
  );
}
