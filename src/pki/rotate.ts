/**
 * `kubeha certs rotate`: re-issue leaves that are due (or all with --force);
 * with --ca, retire the CAs and the service-account key to
 * `pki/retired/<time>/` (never deleted), make new ones and re-issue every leaf.
 */
import { existsSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { ensurePrivateDir } from "../core/files.js";
import type { Cluster } from "../spec/defaults.js";
import { generatePki, type PkiChange } from "./generate.js";
import { CAS, SA_KEY, SA_PUB } from "./inventory.js";

export interface RotateResult {
  readonly changes: readonly PkiChange[];
  /** Where the old CAs went, when --ca was given. */
  readonly retiredTo?: string;
}

/** Rotates certificates in `pkiDir`; `ca` replaces the CAs too. */
export async function rotateCerts(
  cluster: Cluster,
  pkiDir: string,
  opts: { ca?: boolean; force?: boolean; now?: Date },
): Promise<RotateResult> {
  const now = opts.now ?? new Date();
  let retiredTo: string | undefined;
  if (opts.ca) {
    retiredTo = join("retired", now.toISOString().replace(/[:.]/g, "-"));
    const files = [...Object.values(CAS).flatMap((c) => [c.cert, c.key]), SA_KEY, SA_PUB];
    for (const f of files) {
      const from = join(pkiDir, f);
      if (!existsSync(from)) continue;
      const to = join(pkiDir, retiredTo, f);
      ensurePrivateDir(dirname(to));
      renameSync(from, to);
    }
  }
  const changes = await generatePki(cluster, pkiDir, { reissueAll: Boolean(opts.ca || opts.force), now });
  return { changes, ...(retiredTo && { retiredTo }) };
}

/** Per host, the files it must receive after a rotation (for the operator's next steps). */
export function filesPerHost(changes: readonly PkiChange[]): Map<string, string[]> {
  const byHost = new Map<string, string[]>();
  for (const c of changes) {
    const m = c.file.match(/^hosts\/([^/]+)\/(.+)$/);
    const host = m?.[1] ?? "(operator)";
    const file = m?.[2] ?? c.file;
    byHost.set(host, [...(byHost.get(host) ?? []), file]);
  }
  return byHost;
}
