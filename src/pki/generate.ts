/**
 * `kubeha pki generate`: make the PKI match the spec, changing only what
 * differs. CAs are made once and never replaced here; a leaf is re-issued only
 * when it is missing, unreadable, signed by another CA, carries other names
 * than the spec asks for, or nears expiry. A second run writes nothing.
 */
import { chmodSync } from "node:fs";
import { dirname, join } from "node:path";
import { ensurePrivateDir, modeOf, readIfExists, writeFileAtomic } from "../core/files.js";
import { sha256 } from "../core/hash.js";
import type { LineCache } from "../core/line-cache.js";
import { mapLimit } from "../core/parallel.js";
import type { Cluster } from "../spec/defaults.js";
import { assessLeaf, daysLeft } from "./assess.js";
import { ensureAuthorities } from "./authorities.js";
import { issueLeaf, type Signer } from "./certificate.js";
import {
  CAS,
  type CaId,
  CERT_MODE,
  ENCRYPTION_CONFIG,
  type Inventory,
  inventoryOf,
  KEY_MODE,
  type Leaf,
  SA_KEY,
  SA_PUB,
} from "./inventory.js";
import { renderKubeconfig } from "./kubeconfig.js";

/** One file kubeha changed, and why. */
export interface PkiChange {
  readonly file: string;
  readonly action: "created" | "re-issued" | "updated" | "mode fixed";
  readonly reason?: string;
}

export interface GenerateOptions {
  /** Re-issue every leaf, fitting or not (`certs rotate --force`, and after a CA rotation). */
  readonly reissueAll?: boolean;
  readonly now?: Date;
  /**
   * Leaves found fitting before, by a digest of everything the verdict
   * depends on (their files, their CA, what the spec asks of them), with
   * their expiry: a re-run trusts those instead of parsing every
   * certificate and key again (most of a no-op `up`'s local time).
   */
  readonly verdicts?: LineCache;
}

/** The digest of everything assessLeaf judges a leaf by, but the clock. */
function fitKey(pkiDir: string, leaf: Leaf, ca: Signer, cluster: Cluster): string {
  const t = leaf.target;
  const files = t.kind === "pem" ? [t.cert, t.key] : [t.file];
  return sha256(
    JSON.stringify([
      leaf.request,
      t,
      cluster.pki.keyAlgorithm,
      ca.certPem,
      ...files.map((f) => readIfExists(join(pkiDir, f)) ?? null),
    ]),
  );
}

/** The files of a leaf with their contents, ready to write. */
function leafFiles(leaf: Leaf, issued: { cert: string; key: string }, ca: Signer, cluster: Cluster) {
  const t = leaf.target;
  if (t.kind === "pem") {
    return [
      { path: t.cert, content: issued.cert, mode: CERT_MODE },
      { path: t.key, content: issued.key, mode: KEY_MODE },
    ];
  }
  const content = renderKubeconfig({
    cluster: cluster.name,
    server: t.server,
    caPem: ca.certPem,
    user: t.user,
    certPem: issued.cert,
    keyPem: issued.key,
  });
  return [{ path: t.file, content, mode: t.mode }];
}

/** Every file of the inventory with the mode it must have. */
function expectedModes(inv: Inventory): Map<string, number> {
  const modes = new Map<string, number>();
  for (const id of Object.keys(CAS) as CaId[]) {
    modes.set(CAS[id].cert, CERT_MODE);
    modes.set(CAS[id].key, KEY_MODE);
  }
  modes.set(SA_KEY, KEY_MODE);
  modes.set(SA_PUB, CERT_MODE);
  modes.set(ENCRYPTION_CONFIG, KEY_MODE);
  for (const leaf of inv.leaves) {
    const t = leaf.target;
    if (t.kind === "pem") {
      modes.set(t.cert, CERT_MODE);
      modes.set(t.key, KEY_MODE);
    } else modes.set(t.file, t.mode);
  }
  for (const c of inv.copies) modes.set(c.to, c.mode);
  return modes;
}

/** Brings `pkiDir` in line with `cluster`; returns what changed. */
export async function generatePki(
  cluster: Cluster,
  pkiDir: string,
  opts: GenerateOptions = {},
): Promise<PkiChange[]> {
  const now = opts.now ?? new Date();
  const changes: PkiChange[] = [];
  ensurePrivateDir(pkiDir);

  const { cas, pending } = await ensureAuthorities(pkiDir, cluster, true);
  for (const f of pending) {
    writeFileAtomic(join(pkiDir, f.path), f.content, f.mode);
    changes.push({ file: f.path, action: "created", reason: f.reason });
  }

  const inv = inventoryOf(cluster);
  const { leafValidityDays, keyAlgorithm } = cluster.pki;
  await mapLimit(inv.leaves, 8, async (leaf) => {
    const key = opts.verdicts && fitKey(pkiDir, leaf, cas[leaf.signer], cluster);
    const notAfter = key && opts.verdicts?.get(key);
    if (!opts.reissueAll && notAfter && daysLeft(new Date(notAfter), now) >= cluster.pki.renewBeforeDays)
      return;
    const verdict = await assessLeaf(pkiDir, leaf, cas, cluster, now);
    if (verdict.status === "ok" && !opts.reissueAll) {
      if (key && verdict.info) opts.verdicts?.set(key, verdict.info.notAfter.toISOString());
      return;
    }
    const ca = cas[leaf.signer];
    const issued = await issueLeaf(leaf.request, ca, keyAlgorithm, leafValidityDays, now);
    const action = verdict.status === "missing" ? "created" : "re-issued";
    const reason =
      verdict.status === "missing"
        ? undefined
        : verdict.status === "ok"
          ? "forced"
          : `${verdict.status}${verdict.reason ? `: ${verdict.reason}` : ""}`;
    for (const f of leafFiles(leaf, issued, ca, cluster)) {
      writeFileAtomic(join(pkiDir, f.path), f.content, f.mode);
      changes.push({ file: f.path, action, ...(reason && { reason }) });
    }
  });

  for (const copy of inv.copies) {
    const source = readIfExists(join(pkiDir, copy.from)) ?? "";
    const current = readIfExists(join(pkiDir, copy.to));
    if (current === source) continue;
    writeFileAtomic(join(pkiDir, copy.to), source, copy.mode);
    changes.push({
      file: copy.to,
      action: current === undefined ? "created" : "updated",
      reason: `copy of ${copy.from}`,
    });
  }

  const modes = expectedModes(inv);
  for (const dir of new Set([...modes.keys()].map((f) => dirname(f)))) modes.set(dir, 0o700);
  for (const [file, mode] of modes) {
    const actual = modeOf(join(pkiDir, file));
    if (actual !== undefined && actual !== mode) {
      chmodSync(join(pkiDir, file), mode);
      changes.push({
        file,
        action: "mode fixed",
        reason: `was ${actual.toString(8)}, now ${mode.toString(8)}`,
      });
    }
  }
  return changes.sort((a, b) => a.file.localeCompare(b.file));
}
