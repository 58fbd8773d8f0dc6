/**
 * The floating addresses of a cluster and the hosts that may hold them, in
 * one place: the API VIP floats over the controlplane hosts (endpoint mode
 * vip), the ingress VIP over the edge hosts. A host that may hold one is a
 * VIP candidate: it runs the agent's etcd election, needs the agent's etcd
 * client certificate and the tools the VIP manager uses (ip, arping, stdbuf),
 * and must sit inside network.hostCidr.
 */
import { type Cluster, DEFAULTS, type Host } from "./defaults.js";
import { HostList } from "./host-list.js";

/** A floating address and who may hold it. */
export interface FloatingAddress {
  /** The election's name: the key is /kubeha/vip/NAME. */
  readonly name: "api" | "ingress";
  /** For messages: "API VIP". */
  readonly title: string;
  readonly address: string;
  /** The ports clients use on it. */
  readonly ports: readonly number[];
  readonly candidates: readonly Host[];
  /** TTL of the etcd lease that fences its holder. */
  readonly leaseTtlSeconds: number;
  /** Which role makes a host a candidate, for messages. */
  readonly role: "controlplane" | "edge";
  /** Where the spec sets the address. */
  readonly path: readonly string[];
}

/** Every floating address of `cluster`. */
export function floatingAddresses(cluster: Cluster): FloatingAddress[] {
  const hosts = new HostList(cluster.hosts);
  const out: FloatingAddress[] = [];
  const ep = cluster.controlPlane.endpoint;
  if (ep.mode === "vip") {
    out.push({
      name: "api",
      title: "API VIP",
      address: ep.vip,
      ports: [ep.port],
      leaseTtlSeconds: ep.leaseTtlSeconds,
      candidates: hosts.controlplanes(),
      role: "controlplane",
      path: ["spec", "controlPlane", "endpoint", "vip"],
    });
  }
  if (cluster.ingress?.vip) {
    out.push({
      name: "ingress",
      title: "ingress VIP",
      address: cluster.ingress.vip,
      ports: cluster.ingress.ports,
      leaseTtlSeconds: DEFAULTS.vipLeaseTtlSeconds,
      candidates: hosts.edges(),
      role: "edge",
      path: ["spec", "ingress", "vip"],
    });
  }
  return out;
}

/** The floating addresses `host` may hold. */
export function vipsOf(cluster: Cluster, host: Host): FloatingAddress[] {
  return floatingAddresses(cluster).filter((v) => v.candidates.some((c) => c.name === host.name));
}

/** Whether `host` may hold any floating address. */
export const isVipCandidate = (cluster: Cluster, host: Host) => vipsOf(cluster, host).length > 0;
