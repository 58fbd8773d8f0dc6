/**
 * Cross-field rules, run on the defaulted model. Each rule returns every
 * problem it finds (never the first only), as findings with a spec path that
 * the loader turns into a line and column. Each rule also says which parts of
 * the spec it reads, so that when some parts are malformed the loader can
 * still run the rules whose parts are sound (spec/load.ts): one run reports
 * every problem. Checks that need a host's IP address skip hosts named by DNS
 * until `kubeha up` has resolved them (deferredChecks says which).
 */

import { type Cidr, cidrContains, cidrsOverlap, type Ip, parseCidr, parseIp, sameIp } from "../core/ip.js";
import { type Component, flagProblem, isSupported, SUPPORTED_MINORS } from "../kubernetes/flags.js";
import type { Cluster, Host } from "./defaults.js";
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

/** A cross-field check. */
export interface Rule {
  /** Every problem it finds in a defaulted model. */
  check(cluster: Cluster): Finding[];
  /** The parts of the spec it reads; it is skipped when any of them is malformed. */
  readonly reads: readonly SpecPath[];
  /** Whether it still holds on the well-formed hosts when some hosts are malformed (a check of each host or pair). */
  readonly eachHost?: boolean;
}

const error = (path: SpecPath, message: string): Finding => ({ severity: "error", path, message });
const warning = (path: SpecPath, message: string): Finding => ({ severity: "warning", path, message });
const hostPath = (h: Host, field?: string): SpecPath => ["spec", "hosts", h.index, ...(field ? [field] : [])];

// The schema has already checked syntax, so these parses succeed.
const ip = (s: string) => parseIp(s) as Ip;
const cidr = (s: string) => parseCidr(s) as Cidr;

const HOSTS = ["spec", "hosts"];
const NETWORK = ["spec", "network"];
const ENDPOINT = ["spec", "controlPlane", "endpoint"];
const INGRESS = ["spec", "ingress"];
const ETCD = ["spec", "etcd"];

const uniqueHostFields: Rule = {
  reads: [HOSTS],
  eachHost: true,
  check(cluster) {
    const out: Finding[] = [];
    for (const field of ["name", "address"] as const) {
      const first = new Map<string, Host>();
      for (const h of cluster.hosts) {
        const key = field === "name" ? h.name : h.ip ? `${ip(h.ip).version}:${ip(h.ip).value}` : h.address;
        const seen = first.get(key);
        if (!seen) first.set(key, h);
        else
          out.push(
            error(
              hostPath(h, field),
              `${field} ${h[field]}${field === "address" && h.ip && h.ip !== h.address ? ` (${h.ip})` : ""} is already used by spec.hosts[${seen.index}]`,
            ),
          );
      }
    }
    return out;
  },
};

const requiredRoles: Rule = {
  reads: [HOSTS],
  check(cluster) {
    const hosts = new HostList(cluster.hosts);
    const out: Finding[] = [];
    if (hosts.controlplanes().length === 0) {
      out.push(error(HOSTS, "no host has the controlplane role: give at least one host `controlplane`"));
    }
    const members = hosts.etcdMembers().length;
    if (members === 0) {
      out.push(error(HOSTS, "no host has the etcd role: give at least one host `etcd` (three for HA)"));
    } else if (members % 2 === 0) {
      const q = etcdQuorum(members);
      const t = q.toleratesFailures;
      out.push(
        warning(
          HOSTS,
          `${members} etcd members need ${q.quorum} for quorum and tolerate ${t} failure${t === 1 ? "" : "s"}, no more than ${members - 1} would; the extra member only adds a host that can fail: use an odd count (${members - 1} or ${members + 1})`,
        ),
      );
    }
    return out;
  },
};

/** Every floating address inside the hosts' segment, on no host, apart from the others; its candidates in the segment. */
const floatingInSegment: Rule = {
  reads: [HOSTS, NETWORK, ENDPOINT, INGRESS],
  eachHost: true,
  check(cluster) {
    const floating = floatingAddresses(cluster);
    const hostCidr = cluster.network.hostCidr;
    if (floating.length > 0 && !hostCidr) {
      const what = floating.map((v) => v.title).join(" and the ");
      return [
        error(
          NETWORK,
          `network.hostCidr is required with the ${what}: set the L2 segment the hosts and VIPs share`,
        ),
      ];
    }
    if (!hostCidr) return [];
    const out: Finding[] = [];
    const segment = cidr(hostCidr);
    floating.forEach((vip, i) => {
      if (!cidrContains(segment, ip(vip.address))) {
        out.push(error(vip.path, `${vip.title} ${vip.address} is outside network.hostCidr ${hostCidr}`));
      }
      const owner = cluster.hosts.find((h) => h.ip && sameIp(h.ip, vip.address));
      if (owner) {
        out.push(
          error(
            vip.path,
            `${vip.title} ${vip.address} is the address of spec.hosts[${owner.index}]: pick a free address`,
          ),
        );
      }
      const twin = floating.slice(0, i).find((other) => sameIp(other.address, vip.address));
      if (twin) {
        out.push(
          error(vip.path, `${vip.title} ${vip.address} is the ${twin.title} too: give each its own address`),
        );
      }
      for (const h of vip.candidates) {
        if (h.ip && !cidrContains(segment, ip(h.ip))) {
          out.push(
            error(
              hostPath(h, "address"),
              `${vip.role} host ${h.name} (${h.ip}) is outside network.hostCidr ${hostCidr}: it cannot hold the ${vip.title}`,
            ),
          );
        }
      }
    });
    return out;
  },
};

const ingressEdge: Rule = {
  reads: [HOSTS, INGRESS],
  check(cluster) {
    if (!cluster.ingress) return [];
    const edges = new HostList(cluster.hosts).edges();
    if (edges.length === 0) {
      return [
        error(INGRESS, "ingress is configured but no host has the edge role: give at least one host `edge`"),
      ];
    }
    if (edges.length === 1) {
      return [
        warning(
          HOSTS,
          `only one edge host (${edges[0]?.name}): ingress is a single point of failure; give a second host the edge role`,
        ),
      ];
    }
    return [];
  },
};

const networksApart: Rule = {
  reads: [NETWORK],
  check(cluster) {
    const { hostCidr, podCidr, serviceCidr } = cluster.network;
    const nets: [string, string][] = [
      ...(hostCidr ? [["hostCidr", hostCidr] as [string, string]] : []),
      ["podCidr", podCidr],
      ["serviceCidr", serviceCidr],
    ];
    const out: Finding[] = [];
    nets.forEach(([name, value], i) => {
      for (const [otherName, other] of nets.slice(0, i)) {
        if (cidrsOverlap(cidr(value), cidr(other))) {
          out.push(
            error(
              [...NETWORK, name],
              `${name} ${value} overlaps ${otherName} ${other}: the ranges must be disjoint`,
            ),
          );
        }
      }
    });
    return out;
  },
};

/** A download names a release, or a URL with its SHA-256; Debian's package gets a warning. */
const etcdBinaries: Rule = {
  reads: [ETCD],
  check(cluster) {
    const b = cluster.etcd.binaries;
    const path = [...ETCD, "binaries"];
    if (b.source === "package") {
      return [
        warning(
          path,
          "Debian 12's etcd is 3.4.23: Kubernetes v1.34 is tested with etcd 3.5/3.6, and 3.4.23 lets any authenticated user (here also the agents' least-privileged certificate) list the keys under a lease (CVE-2023-32082, fixed in 3.4.26); fine for the lab, use source: download on real machines",
        ),
      ];
    }
    if (b.source !== "download") return [];
    if (b.version && b.url) return [error(path, "give version or url, not both")];
    if (!b.version && !b.url)
      return [error(path, "a download needs a version (v3.6.5) or a url with its sha256")];
    if (b.url && !b.sha256) return [error([...path, "sha256"], "a url needs the tarball's sha256")];
    if (b.url && b.mirror)
      return [error([...path, "mirror"], "mirror goes with version; a url is used as it is")];
    return [];
  },
};

const etcdTimings: Rule = {
  reads: [ETCD],
  check(cluster) {
    const { heartbeatMs, electionMs } = cluster.etcd;
    if (electionMs >= 5 * heartbeatMs) return [];
    return [
      error(
        [...ETCD, "electionMs"],
        `electionMs ${electionMs} is under 5 x heartbeatMs (${heartbeatMs}); etcd refuses to start: use at least ${5 * heartbeatMs} (10 x is usual)`,
      ),
    ];
  },
};

/** etcd's shortest lease: 1.5 election timeouts, rounded up to whole seconds (lessor minLeaseTTL). */
export const etcdMinLeaseTtl = (etcd: { heartbeatMs: number; electionMs: number }) =>
  Math.ceil((Math.floor((3 * Math.floor(etcd.electionMs / etcd.heartbeatMs)) / 2) * etcd.heartbeatMs) / 1000);

const vipLease: Rule = {
  reads: [ETCD, ENDPOINT],
  check(cluster) {
    const ep = cluster.controlPlane.endpoint;
    if (ep.mode !== "vip") return [];
    const min = etcdMinLeaseTtl(cluster.etcd);
    if (ep.leaseTtlSeconds >= min) return [];
    return [
      error(
        [...ENDPOINT, "leaseTtlSeconds"],
        `leaseTtlSeconds ${ep.leaseTtlSeconds} is under etcd's shortest lease, ${min} s with electionMs ${cluster.etcd.electionMs}; etcd would silently grant ${min} s: set ${min} or lower electionMs`,
      ),
    ];
  },
};

const pkiLifetimes: Rule = {
  reads: [["spec", "pki"]],
  check(cluster) {
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
  },
};

const KUBERNETES = ["spec", "kubernetes"];
const COMPONENTS: readonly [
  "apiserver" | "controllerManager" | "scheduler" | "kubelet" | "kubeProxy",
  Component,
][] = [
  ["apiserver", "kube-apiserver"],
  ["controllerManager", "kube-controller-manager"],
  ["scheduler", "kube-scheduler"],
  ["kubelet", "kubelet"],
  ["kubeProxy", "kube-proxy"],
];

/** A version kubeha has reference data for, and extra flags that version accepts and has not deprecated. */
const kubernetesFlags: Rule = {
  reads: [KUBERNETES],
  check(cluster) {
    const { version } = cluster.kubernetes;
    if (!isSupported(version)) {
      return [
        error(
          [...KUBERNETES, "version"],
          `kubeha has no reference data for Kubernetes ${version} (the flags it accepts); supported: ${SUPPORTED_MINORS.map((m) => `v${m}.x`).join(", ")}`,
        ),
      ];
    }
    return COMPONENTS.flatMap(([key, component]) =>
      Object.entries(cluster.kubernetes[key].extraArgs).flatMap(([name, value]) => {
        const problem = flagProblem(component, version, name, value);
        return problem ? [error([...KUBERNETES, key, "extraArgs", name], problem)] : [];
      }),
    );
  },
};

/** The spec's own rules; checks that need to know the services (ports) are added by plan/load.ts. */
export const SPEC_RULES: readonly Rule[] = [
  uniqueHostFields,
  requiredRoles,
  floatingInSegment,
  ingressEdge,
  networksApart,
  etcdTimings,
  etcdBinaries,
  vipLease,
  pkiLifetimes,
  kubernetesFlags,
];

/** Whether one path lies inside the other (or they are the same). */
export const overlaps = (a: SpecPath, b: SpecPath) =>
  a.slice(0, Math.min(a.length, b.length)).every((k, i) => k === b[i]);

/**
 * Runs `rules` and returns all findings. `malformed` are the parts of the
 * spec that failed the schema: a rule reading one of them is skipped, except
 * that a rule of each host still runs on the well-formed hosts.
 */
export function checkRules(
  cluster: Cluster,
  rules: readonly Rule[] = SPEC_RULES,
  malformed: readonly SpecPath[] = [],
): Finding[] {
  const blocks = (rule: Rule, bad: SpecPath) =>
    rule.reads.some((r) => overlaps(r, bad)) && !(rule.eachHost && bad.length === 3 && overlaps(HOSTS, bad));
  return rules
    .filter((rule) => !malformed.some((bad) => blocks(rule, bad)))
    .flatMap((rule) => rule.check(cluster))
    .filter((f) => !malformed.some((bad) => overlaps(bad, f.path) && f.path.length >= bad.length));
}

/** The hosts named by DNS, whose address checks wait until `kubeha up` resolves them. */
export function unresolvedHosts(cluster: Cluster): Host[] {
  return cluster.hosts.filter((h) => !h.ip);
}

/** The checks that wait for resolved addresses, in words. */
export const DEFERRED_CHECKS = [
  "no two hosts share an address",
  "no VIP is a host's address",
  "controlplane and edge hosts lie inside network.hostCidr",
] as const;
