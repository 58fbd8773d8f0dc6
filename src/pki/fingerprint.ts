/**
 * A cluster's identity: the fingerprint of its etcd CA. kubeha writes it
 * beside each member's data (the marker) and compares it before touching
 * etcd, so a state directory and the hosts it deploys to can be matched.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { CAS } from "./inventory.js";

/** The fingerprint of the etcd CA in `pkiDir`, or undefined when it has none. */
export const clusterMarkerIfAny = (pkiDir: string): string | undefined =>
  existsSync(join(pkiDir, CAS["etcd-ca"].cert)) ? clusterMarker(pkiDir) : undefined;

/** The fingerprint of the etcd CA in `pkiDir`: the first 32 hex digits of its file's SHA-256. */
export function clusterMarker(pkiDir: string): string {
  return createHash("sha256")
    .update(readFileSync(join(pkiDir, CAS["etcd-ca"].cert)))
    .digest("hex")
    .slice(0, 32);
}

/**
 * State directories near `dirs` (each directory itself, and any `*.kubeha`
 * inside it) whose etcd CA has fingerprint `marker`: where the state of the
 * cluster some hosts belong to probably is.
 */
export function statesWithMarker(marker: string, dirs: readonly string[]): string[] {
  const candidates = new Set<string>();
  for (const dir of dirs.map((d) => resolve(d))) {
    candidates.add(dir);
    if (!existsSync(dir)) continue;
    for (const entry of readdirSync(dir)) if (entry.endsWith(".kubeha")) candidates.add(join(dir, entry));
  }
  return [...candidates].filter((state) => {
    const pki = join(state, "pki");
    return existsSync(join(pki, CAS["etcd-ca"].cert)) && clusterMarker(pki) === marker;
  });
}
