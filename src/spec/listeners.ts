/**
 * What each host listens on, derived from its roles and the spec. Used to find
 * port clashes before anything is deployed (the common one: a node-local proxy
 * or an API VIP port on a port an apiserver or etcd already holds).
 */
import type { Cluster, Host } from "./defaults.js";

/** One listening socket a host will have. */
export interface Listener {
  /** Bind address; `0.0.0.0` means every address of the host. */
  readonly address: string;
  readonly port: number;
  /** Who listens, for messages. */
  readonly owner: string;
  /** Spec path of the setting that chose the port, when the user can change it. */
  readonly path?: readonly (string | number)[];
}

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
const WILDCARD = "0.0.0.0";

/** Every listener `host` will have in `cluster`. */
export function listenersOf(cluster: Cluster, host: Host): Listener[] {
  const out: Listener[] = [];
  const add = (address: string, port: number, owner: string, path?: readonly (string | number)[]) =>
    out.push({ address, port, owner, ...(path && { path }) });
  const has = (r: string) => host.roles.some((x) => x === r);
  const cp = cluster.controlPlane;

  if (has("controlplane")) {
    add(host.address, cp.apiserverPort, "kube-apiserver", ["spec", "controlPlane", "apiserverPort"]);
    if (cp.endpoint.mode === "vip") {
      add(cp.endpoint.vip, cp.endpoint.port, "API VIP frontend", [
        "spec",
        "controlPlane",
        "endpoint",
        "port",
      ]);
    }
    add("127.0.0.1", 10257, "kube-controller-manager");
    add("127.0.0.1", 10259, "kube-scheduler");
  } else {
    add("127.0.0.1", cp.nodeLocalProxyPort, "node-local API proxy", [
      "spec",
      "controlPlane",
      "nodeLocalProxy",
      "port",
    ]);
  }
  if (has("etcd")) {
    add(host.address, ETCD_CLIENT_PORT, "etcd client");
    add("127.0.0.1", ETCD_CLIENT_PORT, "etcd client");
    add(host.address, ETCD_PEER_PORT, "etcd peer");
  }
  add(WILDCARD, 10250, "kubelet");
  add(WILDCARD, 10256, "kube-proxy health");
  if (has("edge") && cluster.ingress) {
    cluster.ingress.ports.forEach((port, i) => {
      const path = ["spec", "ingress", "ports", i];
      add(host.address, port, "ingress controller", path);
      if (cluster.ingress?.vip) add(cluster.ingress.vip, port, "ingress VIP frontend", path);
    });
  }
  return out;
}

/** Pairs of listeners on one host that would collide (same port, same or wildcard address). */
export function clashes(listeners: readonly Listener[]): [Listener, Listener][] {
  const out: [Listener, Listener][] = [];
  listeners.forEach((a, i) => {
    for (const b of listeners.slice(i + 1)) {
      const sameAddress = a.address === b.address || a.address === WILDCARD || b.address === WILDCARD;
      if (a.port === b.port && sameAddress) out.push([a, b]);
    }
  });
  return out;
}
