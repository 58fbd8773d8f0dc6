/**
 * The floating addresses of a cluster and the hosts that may hold them, in
 * one place: the API VIP floats over the controlplane hosts (endpoint mode
 * vip), the ingress VIPs (ingress-1, ingress-2, ...) over the edge hosts. A host that may hold one is a
 * VIP candidate: it runs the agent's etcd election, needs the agent's etcd
 * client certificate and the tools the VIP manager uses (ip, arping, stdbuf),
 * and must sit inside network.hostCidr.
 */
import type { Cluster, Host } from "./defaults.js";
import { HostList } from "./host-list.js";

/** A floating address and who may hold it. */
export interface FloatingAddress {
  /** The election's name: the key is /kubeha/vip/NAME. */
  readonly name: string;
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
  readonly path: readonly (string | number)[];
}

/** The election name of the ingress VIP at `index` in the spec: ingress-1, ingress-2, ... */
export const ingressVipName = (index: number) => `ingress-${index + 1}`;

/** The ingress VIPs of `cluster`, in spec order. */
export const ingressVips = (cluster: Cluster) => floatingAddresses(cluster).filter((v) => v.role === "edge");

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
  const ingress = cluster.ingress;
  ingress?.vips.forEach((address, i) => {
    out.push({
      name: ingressVipName(i),
      title: `ingress VIP ${address}`,
      address,
      ports: ingress.ports,
      leaseTtlSeconds: ingress.leaseTtlSeconds,
      candidates: hosts.edges(),
      role: "edge",
      path: ingress.vipField === "vip" ? ["spec", "ingress", "vip"] : ["spec", "ingress", "vips", i],
    });
  });
  return out;
}

/** The floating addresses `host` may hold. */
export function vipsOf(cluster: Cluster, host: Host): FloatingAddress[] {
  return floatingAddresses(cluster).filter((v) => v.candidates.some((c) => c.name === host.name));
}

/** Whether `host` may hold any floating address. */
export const isVipCandidate = (cluster: Cluster, host: Host) => vipsOf(cluster, host).length > 0;
