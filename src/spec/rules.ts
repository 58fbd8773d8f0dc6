/**
 * Cross-field rules, run once on the defaulted model. Each rule returns every
 * problem it finds (never the first only), as findings with a spec path that
 * the loader turns into a line and column.
 */
import { type Cidr, cidrContains, cidrsOverlap, type Ip, parseCidr, parseIp, sameIp } from "../core/ip.js";
import { etcdQuorum } from "../plan/quorum.js";
import type { Cluster } from "./defaults.js";
import { HostList } from "./host-list.js";
import { clashes, listenersOf } from "./listeners.js";

export type SpecPath = readonly (string | number)[];

/** A problem found by a rule, before it has a position. */
export interface Finding {
  readonly severity: "error" | "warning";
  readonly path: SpecPath;
  readonly message: string;
}

type Rule = (cluster: Cluster) => Finding[];

const error = (path: SpecPath, message: string): Finding => ({ severity: "error", path, message });
const warning = (path: SpecPath, message: string): Finding => ({ severity: "warning", path, message });
const hostPath = (i: number, field?: string): SpecPath => ["spec", "hosts", i, ...(field ? [field] : [])];

// The schema has already checked syntax, so these parses succeed.
const ip = (s: string) => parseIp(s) as Ip;
const cidr = (s: string) => parseCidr(s) as Cidr;

const uniqueHostFields: Rule = (cluster) => {
  const out: Finding[] = [];
  for (const field of ["name", "address"] as const) {
    const first = new Map<string, number>();
    cluster.hosts.forEach((h, i) => {
      const key = field === "address" ? `${ip(h.address).version}:${ip(h.address).value}` : h.name;
      const seen = first.get(key);
      if (seen === undefined) first.set(key, i);
      else out.push(error(hostPath(i, field), `${field} ${h[field]} is already used by spec.hosts[${seen}]`));
    });
  }
  return out;
};

const requiredRoles: Rule = (cluster) => {
  const hosts = new HostList(cluster.hosts);
  const out: Finding[] = [];
  if (hosts.controlplanes().length === 0) {
    out.push(
      error(["spec", "hosts"], "no host has the controlplane role: give at least one host `controlplane`"),
    );
  }
  const members = hosts.etcdMembers().length;
  if (members === 0) {
    out.push(
      error(["spec", "hosts"], "no host has the etcd role: give at least one host `etcd` (three for HA)"),
    );
  } else if (members % 2 === 0) {
    const q = etcdQuorum(members);
    const t = q.toleratesFailures;
    out.push(
      warning(
        ["spec", "hosts"],
        `${members} etcd members need ${q.quorum} for quorum and tolerate ${t} failure${t === 1 ? "" : "s"}, no more than ${members - 1} would; the extra member only adds a host that can fail: use an odd count (${members - 1} or ${members + 1})`,
      ),
    );
  }
  return out;
};

const endpointInSegment: Rule = (cluster) => {
  const ep = cluster.controlPlane.endpoint;
  if (ep.mode !== "vip") return [];
  const out: Finding[] = [];
  const segment = cidr(cluster.network.hostCidr);
  const vipPath = ["spec", "controlPlane", "endpoint", "vip"];
  if (!cidrContains(segment, ip(ep.vip))) {
    out.push(error(vipPath, `API VIP ${ep.vip} is outside network.hostCidr ${cluster.network.hostCidr}`));
  }
  const owner = cluster.hosts.findIndex((h) => sameIp(h.address, ep.vip));
  if (owner >= 0) {
    out.push(error(vipPath, `API VIP ${ep.vip} is the address of spec.hosts[${owner}]: pick a free address`));
  }
  cluster.hosts.forEach((h, i) => {
    if (h.roles.includes("controlplane") && !cidrContains(segment, ip(h.address))) {
      out.push(
        error(
          hostPath(i, "address"),
          `controlplane host ${h.name} (${h.address}) is outside network.hostCidr ${cluster.network.hostCidr}: it cannot hold the API VIP`,
        ),
      );
    }
  });
  return out;
};

const ingressEdge: Rule = (cluster) => {
  const ingress = cluster.ingress;
  if (!ingress) return [];
  const out: Finding[] = [];
  const edges = new HostList(cluster.hosts).edges();
  if (edges.length === 0) {
    out.push(
      error(
        ["spec", "ingress"],
        "ingress is configured but no host has the edge role: give at least one host `edge`",
      ),
    );
  } else if (edges.length === 1) {
    out.push(
      warning(
        ["spec", "hosts"],
        `only one edge host (${edges[0]?.name}): ingress is a single point of failure; give a second host the edge role`,
      ),
    );
  }
  const vip = ingress.vip;
  if (vip) {
    const path = ["spec", "ingress", "vip"];
    const segment = cidr(cluster.network.hostCidr);
    if (!cidrContains(segment, ip(vip))) {
      out.push(error(path, `ingress VIP ${vip} is outside network.hostCidr ${cluster.network.hostCidr}`));
    }
    const owner = cluster.hosts.findIndex((h) => sameIp(h.address, vip));
    if (owner >= 0) out.push(error(path, `ingress VIP ${vip} is the address of spec.hosts[${owner}]`));
    const ep = cluster.controlPlane.endpoint;
    if (ep.mode === "vip" && sameIp(ep.vip, vip)) {
      out.push(error(path, `ingress VIP ${vip} is the API VIP too: give each its own address`));
    }
    cluster.hosts.forEach((h, i) => {
      if (h.roles.includes("edge") && !cidrContains(segment, ip(h.address))) {
        out.push(
          error(
            hostPath(i, "address"),
            `edge host ${h.name} is outside network.hostCidr: it cannot hold the ingress VIP`,
          ),
        );
      }
    });
  }
  return out;
};

const networksApart: Rule = (cluster) => {
  const nets = [
    ["hostCidr", cluster.network.hostCidr],
    ["podCidr", cluster.network.podCidr],
    ["serviceCidr", cluster.network.serviceCidr],
  ] as const;
  const out: Finding[] = [];
  nets.forEach(([name, value], i) => {
    for (const [otherName, other] of nets.slice(0, i)) {
      if (cidrsOverlap(cidr(value), cidr(other))) {
        out.push(
          error(
            ["spec", "network", name],
            `${name} ${value} overlaps ${otherName} ${other}: the ranges must be disjoint`,
          ),
        );
      }
    }
  });
  return out;
};

const portsFree: Rule = (cluster) => {
  const byMessage = new Map<string, { path: SpecPath; hosts: string[] }>();
  for (const host of cluster.hosts) {
    for (const [a, b] of clashes(listenersOf(cluster, host))) {
      const path = b.path ?? a.path ?? ["spec", "hosts"];
      const message = `port ${a.port} is wanted twice on one address: ${a.owner} (${a.address}) and ${b.owner} (${b.address})`;
      const entry = byMessage.get(message) ?? { path, hosts: [] };
      entry.hosts.push(host.name);
      byMessage.set(message, entry);
    }
  }
  return [...byMessage].map(([message, { path, hosts }]) =>
    error(path, `${message}, on ${hosts.join(", ")}: pick another port`),
  );
};

const etcdTimings: Rule = (cluster) => {
  const { heartbeatMs, electionMs } = cluster.etcd;
  if (electionMs >= 5 * heartbeatMs) return [];
  return [
    error(
      ["spec", "etcd", "electionMs"],
      `electionMs ${electionMs} is under 5 x heartbeatMs (${heartbeatMs}); etcd refuses to start: use at least ${5 * heartbeatMs} (10 x is usual)`,
    ),
  ];
};

/** etcd's shortest lease: 1.5 election timeouts, rounded up to whole seconds (lessor minLeaseTTL). */
export const etcdMinLeaseTtl = (etcd: { heartbeatMs: number; electionMs: number }) =>
  Math.ceil((Math.floor((3 * Math.floor(etcd.electionMs / etcd.heartbeatMs)) / 2) * etcd.heartbeatMs) / 1000);

const vipLease: Rule = (cluster) => {
  const ep = cluster.controlPlane.endpoint;
  if (ep.mode !== "vip") return [];
  const min = etcdMinLeaseTtl(cluster.etcd);
  if (ep.leaseTtlSeconds >= min) return [];
  return [
    error(
      ["spec", "controlPlane", "endpoint", "leaseTtlSeconds"],
      `leaseTtlSeconds ${ep.leaseTtlSeconds} is under etcd's shortest lease, ${min} s with electionMs ${cluster.etcd.electionMs}; etcd would silently grant ${min} s: set ${min} or lower electionMs`,
    ),
  ];
};

const pkiLifetimes: Rule = (cluster) => {
  const { leafValidityDays, renewBeforeDays, caValidityDays } = cluster.pki;
  const out: Finding[] = [];
  if (renewBeforeDays >= leafValidityDays) {
    out.push(
      error(
        ["spec", "pki", "renewBeforeDays"],
        `renewBeforeDays ${renewBeforeDays} is not under leafValidityDays ${leafValidityDays}: every run would re-issue every certificate`,
      ),
    );
  }
  if (leafValidityDays > caValidityDays) {
    out.push(
      error(
        ["spec", "pki", "leafValidityDays"],
        `leaves (${leafValidityDays} days) cannot outlive their CA (${caValidityDays} days)`,
      ),
    );
  }
  return out;
};

const rules: readonly Rule[] = [
  uniqueHostFields,
  requiredRoles,
  endpointInSegment,
  ingressEdge,
  networksApart,
  portsFree,
  etcdTimings,
  vipLease,
  pkiLifetimes,
];

/** Runs every cross-field rule and returns all findings. */
export function checkRules(cluster: Cluster): Finding[] {
  return rules.flatMap((rule) => rule(cluster));
}
