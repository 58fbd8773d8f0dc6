/**
 * The container runtime for `kubernetes.containerd.source` other than
 * `package` (Debian's containerd, runc and CNI plugins, installed by apt):
 *
 * - `download`: the upstream release files, fetched on the operator's
 *   machine and checked against the checksum file each project publishes
 *   beside them, cached in the state directory:
 *   `containerd/containerd` `containerd-VER-linux-ARCH.tar.gz` (+ `.sha256sum`),
 *   `opencontainers/runc` `runc.ARCH` (+ `runc.sha256sum`, one line per asset),
 *   `containernetworking/plugins` `cni-plugins-linux-ARCH-vVER.tgz` (+ `.sha256`),
 *   each under `BASE/ORG/REPO/releases/download/vVER/`; BASE is
 *   https://github.com, or the spec's `mirror` with the same layout.
 * - `dir`: a directory holding those same release files (the air-gapped path).
 *
 * A checksum mismatch or a missing file refuses the whole runtime.
 */
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { ExpectedExit, UsageError } from "../core/errors.js";
import { DigestCache, type LocalFile } from "../core/local-file.js";
import type { RuntimeSource } from "../spec/defaults.js";
import { type BinaryDirs, programsAt } from "./etcd.js";
import { fetchVerified, get } from "./fetch.js";

/** The programs of a containerd release kubeha installs. */
export const CONTAINERD_PROGRAMS = ["containerd", "containerd-shim-runc-v2", "ctr"] as const;
/** The CNI plugins a node needs (flannel's own plugin comes with its DaemonSet). */
export const CNI_PLUGINS = ["bridge", "host-local", "loopback", "portmap"] as const;

export const GITHUB = "https://github.com";

/** What a node runs, from the operator's machine. */
export interface RuntimeFiles {
  readonly containerd: ReadonlyMap<string, LocalFile>;
  readonly runc: LocalFile;
  readonly cni: ReadonlyMap<string, LocalFile>;
}

type Versions = {
  readonly containerd: string;
  readonly runc: string;
  readonly cni: string;
  readonly arch: string;
};

/** The release files of `v`: name, URL path under BASE, and its checksum file. */
export function releaseFiles(v: Versions) {
  const bare = (s: string) => s.replace(/^v/, "");
  return {
    containerd: {
      name: `containerd-${bare(v.containerd)}-linux-${v.arch}.tar.gz`,
      dir: `containerd/containerd/releases/download/${v.containerd}`,
      sums: `containerd-${bare(v.containerd)}-linux-${v.arch}.tar.gz.sha256sum`,
    },
    runc: {
      name: `runc.${v.arch}`,
      dir: `opencontainers/runc/releases/download/${v.runc}`,
      sums: "runc.sha256sum",
    },
    cni: {
      name: `cni-plugins-linux-${v.arch}-${v.cni}.tgz`,
      dir: `containernetworking/plugins/releases/download/${v.cni}`,
      sums: `cni-plugins-linux-${v.arch}-${v.cni}.tgz.sha256`,
    },
  } as const;
}

/** The digest a checksum file gives `name`: "HEX  NAME" lines, or a file holding only the digest. */
export function digestIn(sums: string, name: string): string | undefined {
  for (const line of sums.split("\n")) {
    const [hex, file] = line.trim().split(/\s+/);
    if (hex && /^[0-9a-f]{64}$/.test(hex) && (file === undefined || file.replace(/^\*/, "") === name))
      return hex;
  }
  return undefined;
}

/** The runtime's files from `source`, or undefined for the distribution's packages. */
export async function runtimePrograms(
  source: RuntimeSource,
  dirs: BinaryDirs,
): Promise<RuntimeFiles | undefined> {
  if (source.source === "package") return undefined;
  const files = releaseFiles(source);
  const digests = dirs.digests ?? new DigestCache();
  const local: Record<keyof typeof files, string> = { containerd: "", runc: "", cni: "" };
  if (source.source === "dir") {
    const dir = resolve(dirs.specDir, source.path);
    const have = existsSync(dir) ? readdirSync(dir) : [];
    const missing = Object.values(files).filter((f) => !have.includes(f.name));
    if (missing.length > 0) {
      throw new UsageError(`${dir} holds no ${missing.map((f) => f.name).join(", ")}`, {
        hint: "put the release files of kubernetes.containerd's versions there, as their projects publish them",
      });
    }
    for (const key of Object.keys(files) as (keyof typeof files)[]) local[key] = join(dir, files[key].name);
  } else {
    const base = (source.mirror ?? GITHUB).replace(/\/+$/, "");
    for (const key of Object.keys(files) as (keyof typeof files)[]) {
      const f = files[key];
      const hint = `check kubernetes.containerd's versions${source.mirror ? ` and that ${base} has GitHub's release layout` : " and the network"}, or use source: dir with the release files`;
      const sums = (await get(`${base}/${f.dir}/${f.sums}`, hint)).toString();
      const sha = digestIn(sums, f.name);
      if (!sha) {
        throw new ExpectedExit(`${base}/${f.dir}/${f.sums} lists no SHA-256 for ${f.name}`, {
          code: "CHECKSUM_MISMATCH",
          hint,
        });
      }
      local[key] = join(dirs.stateDir, "downloads", "runtime", `${sha.slice(0, 16)}-${f.name}`);
      await fetchVerified(`${base}/${f.dir}/${f.name}`, sha, local[key], {
        says: "its published checksum is",
        hint,
        digests,
      });
    }
  }
  const at = (path: string, names: readonly string[], what: string) =>
    programsAt(path, names, dirs, `${what} should be its project's release archive`);
  return {
    containerd: at(local.containerd, CONTAINERD_PROGRAMS, "the containerd release"),
    runc: digests.of(local.runc),
    cni: at(local.cni, CNI_PLUGINS, "the CNI plugins release"),
  };
}
