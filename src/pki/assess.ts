/**
 * Does an existing leaf still fit the spec? Shared by `pki generate` (which
 * re-issues what does not fit) and `certs check` (which reports it), so both
 * always agree.
 */
import { join } from "node:path";
import { readIfExists } from "../core/files.js";
import { parseIp } from "../core/ip.js";
import type { Cluster } from "../spec/defaults.js";
import { type AltNames, type CertInfo, parseCert, type Signer, signedBy } from "./certificate.js";
import type { CaId, Leaf } from "./inventory.js";
import { keyKind, publicKeyDer } from "./keys.js";
import { parseKubeconfig } from "./kubeconfig.js";

export type LeafStatus = "ok" | "renew soon" | "expired" | "names out of date" | "missing" | "invalid";

/** The verdict on one leaf, with the reason when it is not ok. */
export interface Assessment {
  readonly status: LeafStatus;
  readonly reason?: string;
  readonly info?: CertInfo;
}

const DAY_MS = 86_400_000;

/** Days from `now` until `date`, rounded down. */
export function daysLeft(date: Date, now: Date): number {
  return Math.floor((date.getTime() - now.getTime()) / DAY_MS);
}

const normIp = (s: string) => {
  const ip = parseIp(s);
  return ip ? `${ip.version}:${ip.value}` : s;
};
const sameSet = (a: readonly string[], b: readonly string[]) => {
  const x = new Set(a);
  const y = new Set(b);
  return x.size === y.size && [...x].every((v) => y.has(v));
};

/** Which names differ between what a certificate has and what it should have. */
export function namesDiff(have: AltNames, want: AltNames): string | undefined {
  const missing = [
    ...want.dns.filter((d) => !have.dns.includes(d)),
    ...want.ip.filter((i) => !have.ip.map(normIp).includes(normIp(i))),
  ];
  const extra = [
    ...have.dns.filter((d) => !want.dns.includes(d)),
    ...have.ip.filter((i) => !want.ip.map(normIp).includes(normIp(i))),
  ];
  if (missing.length === 0 && extra.length === 0) return undefined;
  return [
    missing.length ? `lacks ${missing.join(", ")}` : "",
    extra.length ? `has extra ${extra.join(", ")}` : "",
  ]
    .filter(Boolean)
    .join("; ");
}

/** The certificate and key PEM of a leaf as stored, whatever its target. */
export function readLeaf(pkiDir: string, leaf: Leaf): { cert?: string; key?: string; problem?: string } {
  if (leaf.target.kind === "pem") {
    const cert = readIfExists(join(pkiDir, leaf.target.cert));
    const key = readIfExists(join(pkiDir, leaf.target.key));
    return { ...(cert !== undefined && { cert }), ...(key !== undefined && { key }) };
  }
  const text = readIfExists(join(pkiDir, leaf.target.file));
  if (text === undefined) return {};
  const kc = parseKubeconfig(text);
  if (!kc) return { problem: "not a kubeconfig" };
  return { cert: kc.certPem, key: kc.keyPem };
}

/** Judges one leaf against the spec, its CA and the clock. */
export async function assessLeaf(
  pkiDir: string,
  leaf: Leaf,
  cas: Readonly<Record<CaId, Signer>>,
  cluster: Cluster,
  now: Date,
): Promise<Assessment> {
  const stored = readLeaf(pkiDir, leaf);
  if (stored.problem) return { status: "invalid", reason: stored.problem };
  if (stored.cert === undefined && stored.key === undefined) return { status: "missing" };
  if (!stored.cert || !stored.key)
    return { status: "invalid", reason: stored.cert ? "key missing" : "certificate missing" };

  let info: CertInfo;
  try {
    info = parseCert(stored.cert);
    if (!publicKeyDer(stored.key).equals(info.publicKeyDer))
      return { status: "invalid", reason: "key does not match certificate" };
  } catch (err) {
    return { status: "invalid", reason: `unreadable: ${(err as Error).message}` };
  }
  const ca = cas[leaf.signer];
  if (!(await signedBy(info.cert, ca.cert)))
    return { status: "invalid", info, reason: `not signed by the current ${leaf.signer}` };

  const want = leaf.request;
  const reasons: string[] = [];
  if (info.subject.cn !== want.subject.cn) reasons.push(`CN is ${info.subject.cn}, wants ${want.subject.cn}`);
  if (!sameSet(info.subject.o, want.subject.o))
    reasons.push(`O is [${info.subject.o}], wants [${want.subject.o}]`);
  const diff = namesDiff(info.names, want.names);
  if (diff) reasons.push(diff);
  if (!sameSet(info.usages, want.usages)) reasons.push(`usages [${info.usages}], wants [${want.usages}]`);
  if (keyKind(stored.key) !== cluster.pki.keyAlgorithm)
    reasons.push(`key is not ${cluster.pki.keyAlgorithm}`);
  if (leaf.target.kind === "kubeconfig") {
    const kc = parseKubeconfig(readIfExists(join(pkiDir, leaf.target.file)) ?? "");
    if (kc?.server !== leaf.target.server)
      reasons.push(`server is ${kc?.server}, wants ${leaf.target.server}`);
    if (kc?.caPem !== ca.certPem) reasons.push("embedded CA is not the current CA");
  }
  if (reasons.length > 0) return { status: "names out of date", info, reason: reasons.join("; ") };

  const left = daysLeft(info.notAfter, now);
  if (left < 0) return { status: "expired", info, reason: `expired ${-left} days ago` };
  if (left < cluster.pki.renewBeforeDays) return { status: "renew soon", info, reason: `${left} days left` };
  return { status: "ok", info };
}
