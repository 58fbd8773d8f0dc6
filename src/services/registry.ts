/**
 * Every host service kubeha knows, in the order they start. Desired files,
 * facts, starts and restarts, readiness and the port-clash check loop over
 * this list; a new component is a module beside these and one line here.
 */
import type { Cluster, Host } from "../spec/defaults.js";
import { agent } from "./agent.js";
import { apiserver, controllerManager, scheduler } from "./control-plane.js";
import { etcd } from "./etcd.js";
import { etcdSnapshot } from "./etcd-snapshot.js";
import { ingressController } from "./ingress.js";
import { containerd, kubelet, kubeProxy, nodeSetup } from "./node.js";
import type { HostService } from "./service.js";

export const SERVICES: readonly HostService[] = [
  etcd,
  etcdSnapshot,
  apiserver,
  controllerManager,
  scheduler,
  agent,
  nodeSetup,
  containerd,
  kubelet,
  kubeProxy,
  ingressController,
];

/** The services `host` runs in `cluster` (deployed or still to come). */
export function servicesOn(cluster: Cluster, host: Host): HostService[] {
  return SERVICES.filter((s) => s.hosts(cluster).some((h) => h.name === host.name));
}

/** The services kubeha deploys on `host` (those with a unit), with their unit. */
export function deployedOn(cluster: Cluster, host: Host): { service: HostService; unit: string }[] {
  return servicesOn(cluster, host).flatMap((service) => {
    const unit = service.unit(cluster);
    return unit ? [{ service, unit }] : [];
  });
}

/** Every unit kubeha deploys somewhere in `cluster`. */
export function deployedUnits(cluster: Cluster): string[] {
  return SERVICES.flatMap((s) => s.unit(cluster) ?? []);
}
