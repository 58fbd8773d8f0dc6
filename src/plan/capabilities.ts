/**
 * What the cluster must keep doing, each as "at least k of these hosts are
 * alive" requirements that must all hold. Tolerance, single points of failure
 * and what-if answers are all computed from these, never special-cased: a
 * capability survives a set of lost hosts iff every requirement still holds,
 * and the smallest set of hosts whose loss breaks it is the smallest
 * (hosts - k + 1) over its requirements.
 *
 * The ingress VIPs are elected on etcd (ARCHITECTURE §4), so a cluster with
 * ingress VIPs needs etcd quorum to keep serving ingress on them: a holder
 * that cannot renew its lease drops the address. Every VIP may go to every
 * edge, so a VIP has somewhere to go while one edge with a ready controller
 * lives, however many VIPs there are.
 */
import { apiserver } from "../services/control-plane.js";
import { etcd } from "../services/etcd.js";
import { ingressController } from "../services/ingress.js";
import type { Cluster } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import { etcdQuorum } from "../spec/quorum.js";

/** At least `atLeast` of `hosts` must be alive. */
export interface Requirement {
  /** What the counted hosts are, plural: "etcd members". */
  readonly what: string;
  readonly hosts: readonly string[];
  readonly atLeast: number;
  /** The service (services/registry.ts) whose readiness on a host counts it alive: `kubeha status` counts with it. */
  readonly service: string;
}

export type CapabilityName = "etcdQuorum" | "api" | "ingress";

/** Something users rely on, and what it needs. */
export interface Capability {
  readonly name: CapabilityName;
  readonly title: string;
  readonly requires: readonly Requirement[];
  /** False when the cluster does not offer it at all (no edge hosts). */
  readonly configured: boolean;
}

/** The capabilities of `cluster`, derived from its topology. */
export function capabilitiesOf(cluster: Cluster): Capability[] {
  const hosts = new HostList(cluster.hosts);
  const names = (list: readonly { name: string }[]) => list.map((h) => h.name);
  const members = names(hosts.etcdMembers());
  const quorum: Requirement = {
    what: "etcd members",
    hosts: members,
    atLeast: etcdQuorum(members.length).quorum,
    service: etcd.name,
  };
  const apiservers: Requirement = {
    what: "apiservers",
    hosts: names(hosts.controlplanes()),
    atLeast: 1,
    service: apiserver.name,
  };
  const edges: Requirement = {
    what: "edge hosts",
    hosts: names(hosts.edges()),
    atLeast: 1,
    service: ingressController.name,
  };
  return [
    { name: "etcdQuorum", title: "etcd quorum", requires: [quorum], configured: members.length > 0 },
    {
      name: "api",
      title: "Kubernetes API",
      requires: [apiservers, quorum],
      configured: apiservers.hosts.length > 0,
    },
    {
      name: "ingress",
      title: "ingress",
      requires: cluster.ingress?.vips.length ? [edges, quorum] : [edges],
      configured: edges.hosts.length > 0,
    },
  ];
}

/** Alive hosts of `req` once `lost` are gone. */
export function remaining(req: Requirement, lost: ReadonlySet<string>): number {
  return req.hosts.filter((h) => !lost.has(h)).length;
}

/** Whether `cap` still holds with `lost` hosts gone. */
export function survives(cap: Capability, lost: ReadonlySet<string>): boolean {
  return cap.configured && cap.requires.every((r) => remaining(r, lost) >= r.atLeast);
}

/** How many hosts may fail, whichever they are, with `cap` still holding. */
export function toleratesFailures(cap: Capability): number {
  if (!survives(cap, new Set())) return 0;
  return Math.min(...cap.requires.map((r) => r.hosts.length - r.atLeast));
}
