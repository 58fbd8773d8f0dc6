/**
 * The upkeep rows of a status report, judged with no I/O: certificates
 * (days left, and what needs `pki rotate` or `up`) and etcd snapshots (the
 * newest anywhere, and a warning when scheduled ones have stopped).
 */
import type { CertRow } from "../pki/check.js";
import type { Cluster } from "../spec/defaults.js";
import type { ClusterObservation } from "./observation.js";
import type { Problem, StatusReport } from "./report.js";

/** Certificates this close to expiry are named in the warnings. */
const CERT_WARN_DAYS = 30;

const iso = (ms: number) => new Date(ms).toISOString();

export function certificateRows(rows: readonly CertRow[], problems: Problem[]): StatusReport["certificates"] {
  for (const r of rows) {
    if (r.status === "ok" || r.status === "not in spec") {
      if (r.daysLeft !== null && r.daysLeft < CERT_WARN_DAYS)
        problems.push({ severity: "warning", subject: r.file, message: `expires in ${r.daysLeft} days` });
      continue;
    }
    problems.push({
      severity: r.status === "renew soon" ? "warning" : "degraded",
      subject: r.file,
      message: `certificate ${r.status}${r.reason ? `: ${r.reason}` : ""}${r.daysLeft !== null ? ` (${r.daysLeft} days left)` : ""}; \`kubeha pki rotate\` or \`kubeha up\``,
    });
  }
  return rows.map((r) => ({ file: r.file, daysLeft: r.daysLeft, status: r.status }));
}

export /** The newest etcd snapshot anywhere; a warning when scheduled ones have stopped (none for two intervals). */
function snapshotSummary(
  cluster: Cluster,
  obs: ClusterObservation,
  problems: Problem[],
): StatusReport["snapshots"] {
  const onMembers = obs.hosts.flatMap((h) => h.snapshots ?? []);
  const all = [
    ...onMembers.map((s) => ({ where: s.host, name: s.name, time: s.mtime * 1000 })),
    ...obs.savedSnapshots.map((s) => ({ where: "here", name: s.name, time: s.time })),
  ].sort((a, b) => b.time - a.time);
  const newest = all[0];
  const every = cluster.etcd.snapshots?.everySeconds;
  const last = newest && {
    where: newest.where,
    name: newest.name,
    time: iso(newest.time),
    ageSeconds: Math.max(0, Math.round((obs.time - newest.time) / 1000)),
  };
  if (every && last && last.ageSeconds > 2 * every)
    problems.push({
      severity: "warning",
      subject: "etcd snapshots",
      message: `the newest is ${Math.round(last.ageSeconds / 3600)} h old, scheduled every ${Math.round(every / 360) / 10} h; look at \`journalctl -u kubeha-etcd-snapshot\` on the members`,
    });
  return {
    ...(last && { last }),
    onMembers: onMembers.length,
    savedHere: obs.savedSnapshots.length,
    ...(every && { everySeconds: every }),
  };
}
