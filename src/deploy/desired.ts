/**
 * The files each host must end up with: its PKI from the state directory,
 * placed under /etc/kubernetes exactly as laid out there, and the etcd unit
 * on members. Each file names the service that must restart when it changes.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { type EtcdProgramFiles, UPLOADED_ETCD, UPLOADED_ETCDCTL } from "../etcd/binaries.js";
import { hostDir } from "../pki/inventory.js";
import { ETCD_UNIT_PATH, renderEtcdUnit } from "../render/etcd-unit.js";
import type { Cluster, Host } from "../spec/defaults.js";

/** A file a host must have. */
export interface DesiredFile {
  readonly path: string;
  readonly content: string | Buffer;
  readonly mode: number;
  /** A service to restart after this file changes. */
  readonly restarts?: "etcd";
}

/** The etcd binary of the distribution's package. */
export const PACKAGED_ETCD = "/usr/bin/etcd";

/** The files `host` must have: its PKI from `pkiDir`, and on members the etcd unit and any uploaded binaries. */
export function desiredFiles(
  cluster: Cluster,
  host: Host,
  pkiDir: string,
  programs?: EtcdProgramFiles,
): DesiredFile[] {
  const out: DesiredFile[] = [];
  const base = join(pkiDir, hostDir(host.name));
  const isMember = host.roles.includes("etcd");
  for (const rel of readdirSync(base, { recursive: true }).map(String).sort()) {
    const local = join(base, rel);
    const st = statSync(local);
    if (!st.isFile()) continue;
    out.push({
      path: `/etc/kubernetes/${rel}`,
      content: readFileSync(local),
      mode: st.mode & 0o777,
      ...(isMember && rel.startsWith("pki/etcd/") && { restarts: "etcd" as const }),
    });
  }
  if (!isMember) return out;
  if (programs) {
    out.push({ path: UPLOADED_ETCD, content: programs.etcd, mode: 0o755, restarts: "etcd" });
    out.push({ path: UPLOADED_ETCDCTL, content: programs.etcdctl, mode: 0o755 });
  }
  const binary = programs ? UPLOADED_ETCD : PACKAGED_ETCD;
  out.push({
    path: ETCD_UNIT_PATH,
    content: renderEtcdUnit(cluster, host, binary),
    mode: 0o644,
    restarts: "etcd",
  });
  return out;
}
