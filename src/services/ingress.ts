/**
 * The ingress controller on the edge hosts, on host network: its ports on
 * every address of the edge, the ingress VIPs included. With real Kubernetes
 * binaries it is Traefik, a DaemonSet applied with the add-ons
 * (addons/traefik.ts), so no unit here; in the lab it is real nginx under
 * kubeha's own unit (render/ingress.ts). Changes roll one edge at a time:
 * the stopping controller's ping fails first, its agent moves the VIPs to
 * the other edges, and the next edge waits until this one's agent counts it
 * ready again.
 */
import { INGRESS_NGINX_CONF, Unit, unitPath } from "../core/host-paths.js";
import {
  INGRESS_PING_URL,
  ingressEntrypoints,
  renderIngressNginxConf,
  renderIngressUnit,
} from "../render/ingress.js";
import { INGRESS_CHECK } from "../render/timing.js";
import type { Cluster, Host } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import type { HostService } from "./service.js";

const labController = (cluster: Cluster) => cluster.kubernetes.binaries.source === "standin";

/** What the lab's controller needs from the distribution. */
export const ingressPackages = (cluster: Cluster, host: Host): string[] =>
  labController(cluster) && cluster.ingress && host.roles.includes("edge") ? ["nginx-light", "openssl"] : [];

export const ingressController: HostService = {
  name: "ingress-controller",
  hosts: (cluster) => (cluster.ingress ? new HostList(cluster.hosts).edges() : []),
  listeners: (cluster, host) =>
    ingressEntrypoints(cluster).flatMap((e, i) => {
      const path = ["spec", "ingress", "ports", i];
      return [
        { address: host.address, port: e.port, owner: "ingress controller", path },
        ...(cluster.ingress?.vips ?? []).map((vip) => ({
          address: vip,
          port: e.port,
          owner: "ingress controller",
          path,
        })),
      ];
    }),
  unit: (cluster) => (labController(cluster) ? Unit.ingress : undefined),
  files: (cluster, host) =>
    labController(cluster)
      ? [
          {
            path: INGRESS_NGINX_CONF,
            content: renderIngressNginxConf(cluster, host),
            mode: 0o644,
            onChange: "reload",
          },
          { path: unitPath(Unit.ingress), content: renderIngressUnit(), mode: 0o644 },
        ]
      : [],
  certificates: () => [],
  readiness: () => `curl -sf -m 2 -o /dev/null ${INGRESS_PING_URL}`,
  rollout: "rolling",
  // the agent counts a controller ready again after `rise` checks; the next edge waits for that
  settleMs: INGRESS_CHECK.rise * INGRESS_CHECK.intervalMs + INGRESS_CHECK.timeoutMs,
};
