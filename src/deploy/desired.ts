/**
 * The files each host must end up with: its PKI from the state directory,
 * placed under /etc/kubernetes exactly as laid out there, and the etcd unit
 * on members. Each file names the service that must restart when it changes.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ExpectedExit } from "../core/errors.js";
import { packageRoot } from "../core/package-info.js";
import { type EtcdProgramFiles, UPLOADED_ETCD, UPLOADED_ETCDCTL } from "../etcd/binaries.js";
import { hostDir } from "../pki/inventory.js";
import {
  AGENT_CONFIG_PATH,
  NODE_BINARY_PATH,
  renderAgentConfig,
  renderAgentUnit,
  renderStandinConfig,
  renderStandinUnit,
  STANDIN_CONFIG_PATH,
} from "../render/agent-config.js";
import { ETCD_UNIT_PATH, renderEtcdUnit } from "../render/etcd-unit.js";

export const AGENT_UNIT_PATH = "/etc/systemd/system/kubeha-agent.service";
export const STANDIN_UNIT_PATH = "/etc/systemd/system/kubeha-apiserver-standin.service";

import type { Cluster, Host } from "../spec/defaults.js";

/** What to do to a service after a file it reads changed. */
export type ServiceAction = "etcd" | "agent" | "agent-reload" | "standin";

/** A file a host must have. */
export interface DesiredFile {
  readonly path: string;
  readonly content: string | Buffer;
  readonly mode: number;
  /** Services to restart (or reload) after this file changes. */
  readonly restarts?: readonly ServiceAction[];
}

/** Built things that go to hosts besides the PKI. */
export interface Artifacts {
  /** etcd binaries when they do not come from the package. */
  readonly etcd?: EtcdProgramFiles;
  /** The self-contained agent and stand-in executable. */
  readonly nodeBinary?: Buffer;
}

/** The host executable built by `npm run build` (scripts/build-node-binary.mjs). */
export function readNodeBinary(): Buffer {
  const file = fileURLToPath(new URL("dist/kubeha-node", packageRoot));
  if (!existsSync(file)) {
    throw new ExpectedExit(`${file} is missing: the agent executable the hosts run`, {
      code: "NOT_BUILT",
      hint: "run `npm run build` (or `npm ci`, which builds it)",
    });
  }
  return readFileSync(file);
}

/** The etcd binary of the distribution's package. */
export const PACKAGED_ETCD = "/usr/bin/etcd";

/** The files `host` must have: its PKI from `pkiDir`, and on members the etcd unit and any uploaded binaries. */
export function desiredFiles(
  cluster: Cluster,
  host: Host,
  pkiDir: string,
  artifacts: Artifacts = {},
): DesiredFile[] {
  const out: DesiredFile[] = [];
  const base = join(pkiDir, hostDir(host.name));
  const isMember = host.roles.includes("etcd");
  const standin = host.roles.includes("controlplane") && cluster.kubernetes.binaries.source === "standin";
  const readers = (rel: string): ServiceAction[] => [
    ...(isMember && rel.startsWith("pki/etcd/") ? (["etcd"] as const) : []),
    ...(/^pki\/(ca\.crt|etcd\/ca\.crt|kubeha-agent-etcd-client)/.test(rel) ? (["agent"] as const) : []),
    ...(standin && /^pki\/(apiserver\.|apiserver-etcd-client|etcd\/ca\.crt)/.test(rel)
      ? (["standin"] as const)
      : []),
  ];
  for (const rel of readdirSync(base, { recursive: true }).map(String).sort()) {
    const local = join(base, rel);
    const st = statSync(local);
    if (!st.isFile()) continue;
    out.push({
      path: `/etc/kubernetes/${rel}`,
      content: readFileSync(local),
      mode: st.mode & 0o777,
      restarts: readers(rel),
    });
  }
  if (artifacts.nodeBinary) {
    out.push({
      path: NODE_BINARY_PATH,
      content: artifacts.nodeBinary,
      mode: 0o755,
      restarts: ["agent", ...(standin ? (["standin"] as const) : [])],
    });
    out.push({
      path: AGENT_CONFIG_PATH,
      content: `${JSON.stringify(renderAgentConfig(cluster, host), null, 2)}\n`,
      mode: 0o644,
      restarts: ["agent-reload"],
    });
    out.push({
      path: AGENT_UNIT_PATH,
      content: renderAgentUnit(cluster, host),
      mode: 0o644,
      restarts: ["agent"],
    });
    if (standin) {
      out.push({
        path: STANDIN_CONFIG_PATH,
        content: `${JSON.stringify(renderStandinConfig(cluster, host), null, 2)}\n`,
        mode: 0o644,
        restarts: ["standin"],
      });
      out.push({
        path: STANDIN_UNIT_PATH,
        content: renderStandinUnit(host),
        mode: 0o644,
        restarts: ["standin"],
      });
    }
  }
  if (!isMember) return out;
  const programs = artifacts.etcd;
  if (programs) {
    out.push({ path: UPLOADED_ETCD, content: programs.etcd, mode: 0o755, restarts: ["etcd"] });
    out.push({ path: UPLOADED_ETCDCTL, content: programs.etcdctl, mode: 0o755 });
  }
  const binary = programs ? UPLOADED_ETCD : PACKAGED_ETCD;
  out.push({
    path: ETCD_UNIT_PATH,
    content: renderEtcdUnit(cluster, host, binary),
    mode: 0o644,
    restarts: ["etcd"],
  });
  return out;
}
