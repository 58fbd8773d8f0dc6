/**
 * Components kubeha does not deploy yet, known by the hosts they will run on
 * and the ports they will take, so that `plan` refuses a spec whose ports
 * would clash with them today. Each moves to a module of its own, with its
 * files, certificates and readiness, when kubeha starts deploying it.
 */
import type { Cluster, Host } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import type { HostService, Listener } from "./service.js";

function planned(
  name: string,
  hosts: (cluster: Cluster) => readonly Host[],
  listeners: (cluster: Cluster, host: Host) => Listener[],
): HostService {
  return {
    name,
    hosts,
    listeners,
    unit: () => undefined,
    files: () => [],
    certificates: () => [],
    readiness: () => "true",
    rollout: "rolling",
  };
}

/** The ingress controller on the edge hosts, on host network: its ports on the host and on the ingress VIP. */
export const ingressController = planned(
  "ingress-controller",
  (cluster) => (cluster.ingress ? new HostList(cluster.hosts).edges() : []),
  (cluster, host) =>
    (cluster.ingress?.ports ?? []).flatMap((port, i) => {
      const path = ["spec", "ingress", "ports", i];
      const vip = cluster.ingress?.vip;
      return [
        { address: host.address, port, owner: "ingress controller", path },
        ...(vip ? [{ address: vip, port, owner: "ingress VIP frontend", path }] : []),
      ];
    }),
);
