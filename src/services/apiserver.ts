/**
 * kube-apiserver on every controlplane host, at its host address and
 * spec.controlPlane.apiserverPort. In the lab (`kubernetes.binaries.source:
 * standin`) its STAND-IN runs under a unit of its own (render/standin.ts);
 * the real binaries come with the control-plane issue, until then kubeha
 * deploys no apiserver for other sources. Changes roll one host at a time,
 * each ready again (/readyz through the cluster CA) before the next, so the
 * API keeps a ready backend throughout.
 */
import { HostPki, NODE_BINARY, pkiPath, STANDIN_CONFIG, Unit, unitPath } from "../core/host-paths.js";
import { httpsUrl } from "../core/ip.js";
import { shq } from "../core/shell.js";
import { renderStandinConfig, renderStandinUnit } from "../render/standin.js";
import type { Cluster } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import type { HostService } from "./service.js";

const standin = (cluster: Cluster) => cluster.kubernetes.binaries.source === "standin";

export const apiserver: HostService = {
  name: "apiserver",
  hosts: (cluster) => new HostList(cluster.hosts).controlplanes(),
  listeners: (cluster, host) => [
    {
      address: host.address,
      port: cluster.controlPlane.apiserverPort,
      owner: "kube-apiserver",
      path: ["spec", "controlPlane", "apiserverPort"],
    },
  ],
  unit: (cluster) => (standin(cluster) ? Unit.apiserverStandin : undefined),
  files: (cluster, host, artifacts) =>
    standin(cluster)
      ? [
          { path: NODE_BINARY, content: artifacts.nodeBinary, mode: 0o755 },
          {
            path: STANDIN_CONFIG,
            content: `${JSON.stringify(renderStandinConfig(cluster, host), null, 2)}\n`,
            mode: 0o644,
          },
          { path: unitPath(Unit.apiserverStandin), content: renderStandinUnit(host), mode: 0o644 },
        ]
      : [],
  certificates: () => [
    HostPki.apiserver.cert,
    HostPki.apiserver.key,
    HostPki.apiserverEtcdClient.cert,
    HostPki.apiserverEtcdClient.key,
    HostPki.etcdCa.cert,
  ],
  readiness: (cluster, host) =>
    `curl -sf -m 2 -o /dev/null --cacert ${pkiPath(HostPki.ca.cert)} ${shq(`${httpsUrl(host.address, cluster.controlPlane.apiserverPort)}/readyz`)}`,
  rollout: "rolling",
};
