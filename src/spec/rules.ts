/**
 * Cross-field rules, run once on the defaulted model. Each rule returns every
 * problem it finds (never the first only), as findings with a spec path that
 * the loader turns into a line and column.
 */
import { type Cidr, cidrContains, cidrsOverlap, type Ip, parseCidr, parseIp, sameIp } from "../core/ip.js";
import type { Cluster } from "./defaults.js";
import { HostList } from "./host-list.js";
import { etcdQuorum } from "./quorum.js";
import { floatingAddresses } from "./vips.js";

export type SpecPath = readonly (string | number)[];

/** A problem found by a rule, before it has a position. */
export interface Finding {
  readonly severity: "error" | "warning";
  readonly path: SpecPath;
  readonly message: string;
}

/** A cross-field check: every problem it finds in a defaulted model. */
export type Rule = (cluster: Cluster) => Finding[];

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

/** Every floating address inside the hosts' segment, on no host, apart from the others; its candidates in the segment. */
const floatingInSegment: Rule = (cluster) => {
  const out: Finding[] = [];
  const segment = cidr(cluster.network.hostCidr);
  const floating = floatingAddresses(cluster);
  floating.forEach((vip, i) => {
    if (!cidrContains(segment, ip(vip.address))) {
      out.push(
        error(
          vip.path,
          `${vip.title} ${vip.address} is outside network.hostCidr ${cluster.network.hostCidr}`,
        ),
      );
    }
    const owner = cluster.hosts.findIndex((h) => sameIp(h.address, vip.address));
    if (owner >= 0) {
      out.push(
        error(
          vip.path,
          `${vip.title} ${vip.address} is the address of spec.hosts[${owner}]: pick a free address`,
        ),
      );
    }
    const twin = floating.slice(0, i).find((other) => sameIp(other.address, vip.address));
    if (twin) {
      out.push(
        error(vip.path, `${vip.title} ${vip.address} is the ${twin.title} too: give each its own address`),
      );
    }
    cluster.hosts.forEach((h, j) => {
      if (vip.candidates.includes(h) && !cidrContains(segment, ip(h.address))) {
        out.push(
          error(
            hostPath(j, "address"),
            `${vip.role} host ${h.name} (${h.address}) is outside network.hostCidr ${cluster.network.hostCidr}: it cannot hold the ${vip.title}`,
          ),
        );
      }
    });
  });
  return out;
};

const ingressEdge: Rule = (cluster) => {
  if (!cluster.ingress) return [];
  const edges = new HostList(cluster.hosts).edges();
  if (edges.length === 0) {
    return [
      error(
        ["spec", "ingress"],
        "ingress is configured but no host has the edge role: give at least one host `edge`",
      ),
    ];
  }
  if (edges.length === 1) {
    return [
      warning(
        ["spec", "hosts"],
        `only one edge host (${edges[0]?.name}): ingress is a single point of failure; give a second host the edge role`,
      ),
    ];
  }
  return [];
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

/** The spec's own rules; checks that need to know the services (ports) are added by plan/load.ts. */
export const SPEC_RULES: readonly Rule[] = [
  uniqueHostFields,
  requiredRoles,
  floatingInSegment,
  ingressEdge,
  networksApart,
  etcdTimings,
  vipLease,
  pkiLifetimes,
];

/** Runs `rules` and returns all findings. */
export function checkRules(cluster: Cluster, rules: readonly Rule[] = SPEC_RULES): Finding[] {
  return rules.flatMap((rule) => rule(cluster));
}
