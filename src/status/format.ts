/** `kubeha status` as text: the verdicts and problems first, then one table per part. */
import { table } from "../core/table.js";
import type { StatusReport } from "./report.js";

const mb = (bytes: number | undefined) => (bytes === undefined ? "-" : `${(bytes / 1e6).toFixed(1)} MB`);

/** How long ago `iso` was, from `now`, roughly: "12 s", "4 min", "3 h", "2 d". */
export function ago(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  if (s < 172_800) return `${Math.round(s / 3600)} h`;
  return `${Math.round(s / 86_400)} d`;
}

export function formatStatus(r: StatusReport): string {
  const now = Date.parse(r.time);
  const out: string[] = [];
  out.push(`cluster ${r.cluster}: ${r.verdict.toUpperCase()} (${r.time})`, "");
  out.push(
    table([
      ["CAPABILITY", "VERDICT", "DETAIL"],
      ...r.capabilities.map((c) => [c.title, c.verdict, c.detail]),
    ]),
  );
  const problems = r.problems.filter((p) => p.severity !== "warning");
  const warnings = r.problems.filter((p) => p.severity === "warning");
  if (problems.length > 0) out.push("", "Problems:", ...problems.map((p) => `  ${p.subject}: ${p.message}`));
  if (warnings.length > 0) out.push("", "Warnings:", ...warnings.map((p) => `  ${p.subject}: ${p.message}`));

  out.push(
    "",
    table([
      ["HOST", "ADDRESS", "ROLES", "SSH", "SERVICES"],
      ...r.hosts.map((h) => {
        const bad = h.services.filter((s) => !s.ready || (s.active !== undefined && s.active !== "active"));
        const services = !h.reachable
          ? "-"
          : bad.length === 0
            ? `${h.services.length} ready`
            : `${h.services.length - bad.length} of ${h.services.length} ready; not: ${bad.map((s) => s.name).join(", ")}`;
        return [h.name, h.address, h.roles.join(","), h.reachable ? "ok" : "unreachable", services];
      }),
    ]),
  );

  if (r.etcd.members.length > 0) {
    out.push(
      "",
      table([
        [
          "ETCD MEMBER",
          "LEADER",
          "TERM",
          "RAFT INDEX",
          "LAG",
          "REVISION",
          "DB SIZE (IN USE)",
          "LEARNER",
          "ALARMS",
        ],
        ...r.etcd.members.map((m) =>
          m.error
            ? [m.host, "-", "-", "-", "-", "-", "-", "-", m.error]
            : [
                m.host,
                m.leader ? "*" : "",
                String(m.term ?? "-"),
                String(m.raftIndex ?? "-"),
                String(m.lag ?? "-"),
                String(m.revision ?? "-"),
                `${mb(m.dbSize)} (${mb(m.dbSizeInUse)})`,
                m.learner ? "yes" : "no",
                m.alarms.join(", ") || "-",
              ],
        ),
      ]),
      `member lists ${r.etcd.members.some((m) => m.members) ? (r.etcd.memberListsAgree ? "agree" : "DISAGREE") : "could not be read"}${
        r.etcd.hashKv
          ? `; hashkv at revision ${r.etcd.hashKv.revision} ${r.etcd.hashKv.agree ? "agrees" : "DIFFERS"}`
          : ""
      }`,
    );
  }

  if (r.apiservers.length > 0) {
    out.push(
      "",
      table([
        ["APISERVER", "READYZ", "LATENCY", "CONTROLLER-MANAGER", "SCHEDULER"],
        ...r.apiservers.map((a) => [
          a.host,
          a.ready ? "ok" : a.code === 0 ? "no answer" : `HTTP ${a.code}`,
          a.code === 0 ? "-" : `${a.ms} ms`,
          a.controllerManager === undefined ? "-" : a.controllerManager ? "healthy" : "NOT healthy",
          a.scheduler === undefined ? "-" : a.scheduler ? "healthy" : "NOT healthy",
        ]),
      ]),
      r.leaders.unknown
        ? `leaders: unknown (${r.leaders.unknown})`
        : `leaders: controller-manager ${r.leaders.controllerManager}, scheduler ${r.leaders.scheduler}`,
    );
  }
  if (r.external)
    out.push(
      "",
      `external load balancer ${r.external.url}: ${r.external.code === 200 ? `ready (${r.external.ms} ms)` : r.external.error}`,
    );

  if (r.vips.length > 0) {
    out.push(
      "",
      table([
        ["VIP", "ADDRESS", "HOLDER (ETCD)", "ON HOSTS", "LEASE", "LAST MOVE", "ARP ANSWERED BY"],
        ...r.vips.map((v) => [
          v.name,
          v.address,
          v.keyHolder === undefined ? "unread" : v.keyHolder || "(released)",
          v.onHosts.join(", ") || "NONE",
          v.lease ? `renewed ${v.lease.renewedMsAgo} ms ago (TTL ${v.lease.ttlSeconds} s)` : "-",
          v.lastMove ? `${ago(v.lastMove, now)} ago` : "-",
          v.arp.skipped
            ? `not asked: ${v.arp.skipped}`
            : `${v.arp.answeredBy.join(", ") || "nobody"} (from ${v.arp.observer})${v.arp.answeredBy.length > 1 ? " SPLIT BRAIN" : ""}`,
        ]),
      ]),
    );
  }

  if (r.loadBalancers.length > 0) {
    // one row per frontend kind and backend: which hosts see it up, which down
    const groups = new Map<string, { up: string[]; down: string[]; since: string }>();
    for (const b of r.loadBalancers) {
      const key = `${b.frontend}\t${b.backend}`;
      const g = groups.get(key) ?? { up: [], down: [], since: "" };
      (b.state === "up" ? g.up : g.down).push(b.host);
      if (b.state === "down" && (g.since === "" || b.since < g.since)) g.since = b.since;
      groups.set(key, g);
    }
    out.push(
      "",
      table([
        ["FRONTEND", "BACKEND", "UP ON", "DOWN ON"],
        ...[...groups].map(([key, g]) => {
          const [frontend = "", backend = ""] = key.split("\t");
          return [
            frontend,
            backend,
            g.up.length > 0 ? plural(g.up.length) : "-",
            g.down.length > 0 ? `${g.down.join(", ")} (for ${ago(g.since, now)})` : "-",
          ];
        }),
      ]),
    );
  }

  const soonest = r.certificates
    .filter((c) => c.daysLeft !== null)
    .sort((a, b) => (a.daysLeft ?? 0) - (b.daysLeft ?? 0))[0];
  if (soonest)
    out.push(
      "",
      `certificates: ${r.certificates.length} checked; soonest expiry ${soonest.file} in ${soonest.daysLeft} days`,
    );
  const s = r.snapshots;
  out.push(
    "",
    s.last
      ? `etcd snapshots: newest ${s.last.name} on ${s.last.where}, ${ago(s.last.time, now)} ago; ${s.onMembers} on the members, ${s.savedHere} saved here`
      : `etcd snapshots: none yet${s.everySeconds ? ` (scheduled every ${s.everySeconds} s)` : ""}`,
  );
  return `${out.join("\n")}\n`;
}

const plural = (n: number) => `${n} host${n === 1 ? "" : "s"}`;
