/**
 * The apiserver STAND-IN of the lab (ARCHITECTURE §6): its config and unit on
 * a controlplane host. Its shutdown delay (3 s) is longer than the agents'
 * detection of a dead backend (render/agent.ts), so a stopping stand-in is
 * out of every load balancer before it closes.
 */
import { HostPki, NODE_BINARY, pkiPath, STANDIN_CONFIG } from "../core/host-paths.js";
import { hostPort } from "../core/ip.js";
import { clientUrlsFor } from "../etcd/urls.js";
import { type Cluster, type Host, hostIp } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import type { StandinConfig } from "../standin/config.js";

export const STANDIN_SHUTDOWN_DELAY_MS = 3000;

/** The stand-in config of controlplane `host`. */
export function renderStandinConfig(cluster: Cluster, host: Host): StandinConfig {
  return {
    host: host.name,
    listen: hostPort(hostIp(host), cluster.controlPlane.apiserverPort),
    certFile: pkiPath(HostPki.apiserver.cert),
    keyFile: pkiPath(HostPki.apiserver.key),
    etcd: {
      endpoints: clientUrlsFor(new HostList(cluster.hosts).etcdMembers(), host),
      caFile: pkiPath(HostPki.etcdCa.cert),
      certFile: pkiPath(HostPki.apiserverEtcdClient.cert),
      keyFile: pkiPath(HostPki.apiserverEtcdClient.key),
    },
    kubernetesVersion: cluster.kubernetes.version,
    shutdownDelayMs: STANDIN_SHUTDOWN_DELAY_MS,
  };
}

/** The stand-in's systemd unit. */
export function renderStandinUnit(host: Host): string {
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
[Unit]
Description=kubeha apiserver STAND-IN on ${host.name} (lab only; not Kubernetes)
After=network-online.target etcd.service
Wants=network-online.target

[Service]
ExecStart=${NODE_BINARY} standin --config ${STANDIN_CONFIG}
Restart=always
RestartSec=1s
TimeoutStopSec=${Math.ceil(STANDIN_SHUTDOWN_DELAY_MS / 1000) + 5}

[Install]
WantedBy=multi-user.target
`;
}
