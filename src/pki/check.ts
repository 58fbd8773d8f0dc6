/**
 * `kubeha certs check`: every certificate kubeha keeps, with its names, expiry
 * and whether it still fits the spec. Read-only.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { readIfExists } from "../core/files.js";
import type { Cluster } from "../spec/defaults.js";
import { type Assessment, assessLeaf, daysLeft, type LeafStatus } from "./assess.js";
import { ensureAuthorities } from "./authorities.js";
import { parseCert } from "./certificate.js";
import { CAS, type CaId, hostDir, inventoryOf } from "./inventory.js";

export type CertStatus = LeafStatus | "not in spec";

/** One row of the report. */
export interface CertRow {
  readonly file: string;
  readonly subject: string;
  readonly issuer: string;
  readonly sans: readonly string[];
  readonly notAfter: string | null;
  readonly daysLeft: number | null;
  readonly status: CertStatus;
  readonly reason?: string;
}

/** A CA is due for attention much earlier than a leaf: replacing it touches every host. */
const CA_RENEW_DAYS = 365;

function row(file: string, a: Assessment, now: Date): CertRow {
  const info = a.info;
  return {
    file,
    subject: info ? [info.subject.cn, ...info.subject.o.map((o) => `O=${o}`)].join(", ") : "",
    issuer: info?.issuer.replace(/^CN=/, "") ?? "",
    sans: info ? [...info.names.dns, ...info.names.ip] : [],
    notAfter: info ? info.notAfter.toISOString() : null,
    daysLeft: info ? daysLeft(info.notAfter, now) : null,
    status: a.status,
    ...(a.reason && { reason: a.reason }),
  };
}

/** Checks every CA and leaf in `pkiDir` against `cluster`. */
export async function checkCerts(cluster: Cluster, pkiDir: string, now = new Date()): Promise<CertRow[]> {
  const { cas } = await ensureAuthorities(pkiDir, cluster, false);
  const rows: CertRow[] = [];
  for (const id of Object.keys(CAS) as CaId[]) {
    const info = parseCert(cas[id].certPem);
    const left = daysLeft(info.notAfter, now);
    const status: LeafStatus = left < 0 ? "expired" : left < CA_RENEW_DAYS ? "renew soon" : "ok";
    rows.push(
      row(
        CAS[id].cert,
        { status, info, ...(status !== "ok" && { reason: "replace with `certs rotate --ca`" }) },
        now,
      ),
    );
  }
  const inv = inventoryOf(cluster);
  for (const leaf of inv.leaves) {
    const file = leaf.target.kind === "pem" ? leaf.target.cert : leaf.target.file;
    rows.push(row(file, await assessLeaf(pkiDir, leaf, cas, cluster, now), now));
  }
  const hostsDir = join(pkiDir, "hosts");
  const known = new Set(cluster.hosts.map((h) => h.name));
  if (existsSync(hostsDir)) {
    for (const host of readdirSync(hostsDir).sort()) {
      if (known.has(host)) continue;
      const dir = hostDir(host);
      for (const f of readdirSync(join(pkiDir, dir), { recursive: true }).map(String).sort()) {
        if (!f.endsWith(".crt") || (readIfExists(join(pkiDir, dir, f)) ?? "") === "") continue;
        rows.push({
          file: `${dir}/${f}`,
          subject: "",
          issuer: "",
          sans: [],
          notAfter: null,
          daysLeft: null,
          status: "not in spec",
          reason: `host ${host} is no longer in the spec`,
        });
      }
    }
  }
  return rows;
}

/** Whether the report calls for action (anything but ok or renew soon). */
export function needsAction(rows: readonly CertRow[]): boolean {
  return rows.some((r) => r.status !== "ok" && r.status !== "renew soon" && r.status !== "not in spec");
}
