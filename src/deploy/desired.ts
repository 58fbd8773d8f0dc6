/**
 * The files each host must end up with: its PKI from the state directory,
 * placed under /etc/kubernetes exactly as laid out there, and every file of
 * every service it runs (services/registry.ts). Each file names the service
 * actions its change owes: a restart of every service that reads it, or only
 * a reload where that is enough.
 */

import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { ExpectedExit } from "../core/errors.js";
import { kubernetesPath } from "../core/host-paths.js";
import type { Content, DigestCache, LocalFile } from "../core/local-file.js";
import { packageRoot } from "../core/package-info.js";
import { hostDir } from "../pki/inventory.js";
import { deployedOn } from "../services/registry.js";
import { type Artifacts, owedAction } from "../services/service.js";
import type { Cluster, Host } from "../spec/defaults.js";

/** A file a host must have. */
export interface DesiredFile {
  readonly path: string;
  readonly content: Content;
  readonly mode: number;
  /** Service actions owed after this file changes: `etcd`, `agent-reload` ... */
  readonly owes: readonly string[];
}

/** The host executable built by `npm run build` (scripts/build-node-binary.mjs). */
export function readNodeBinary(digests: DigestCache): LocalFile {
  const file = fileURLToPath(new URL("dist/kubeha-node", packageRoot));
  if (!existsSync(file)) {
    throw new ExpectedExit(`${file} is missing: the agent executable the hosts run`, {
      code: "NOT_BUILT",
      hint: "run `npm run build` (or `npm ci`, which builds it)",
    });
  }
  return digests.of(file);
}

/** The files `host` must have: its PKI from `pkiDir` and the files of the services it runs. */
export function desiredFiles(
  cluster: Cluster,
  host: Host,
  pkiDir: string,
  artifacts: Artifacts,
): DesiredFile[] {
  const services = deployedOn(cluster, host).map((d) => d.service);
  const byPath = new Map<string, DesiredFile>();
  const add = (file: Omit<DesiredFile, "owes">, owes: readonly string[]) => {
    const known = byPath.get(file.path);
    byPath.set(file.path, { ...file, owes: [...new Set([...(known?.owes ?? []), ...owes])] });
  };

  const base = join(pkiDir, hostDir(host.name));
  for (const rel of readdirSync(base, { recursive: true }).map(String).sort()) {
    const local = join(base, rel);
    const st = statSync(local);
    if (!st.isFile()) continue;
    const readers = services.filter((s) => s.certificates(cluster, host).includes(rel));
    add(
      { path: kubernetesPath(rel), content: readFileSync(local), mode: st.mode & 0o777 },
      readers.map((s) => owedAction(s, "restart")),
    );
  }
  for (const service of services) {
    for (const f of service.files(cluster, host, artifacts)) {
      const on = f.onChange ?? "restart";
      add(
        { path: f.path, content: f.content, mode: f.mode },
        on === "nothing" ? [] : [owedAction(service, on)],
      );
    }
  }
  return [...byPath.values()];
}
