/**
 * Per-host configuration of the kubeha agent and of the apiserver stand-in,
 * rendered from the spec. Health-check timing sets how fast a dead apiserver
 * leaves rotation: a host that vanishes (no RST, checks time out) fails its
 * first check within interval + timeout = 0.8 s and its second (fall = 2)
 * within 1.6 s, so its sessions are closed in under 2 s; a refused connect
 * takes it out at once. The stand-in's shutdown delay (3 s) is longer than
 * that detection, so a stopping apiserver drains before it closes.
 */
import type { AgentConfig } from "../agent/config.js";
import type { Cluster, Host } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import type { StandinConfig } from "../standin/standin.js";
import { clientUrl } from "./etcd-unit.js";

export const AGENT_CONFIG_PATH = "/etc/kubeha/agent.json";
export const STANDIN_CONFIG_PATH = "/etc/kubeha/apiserver-standin.json";
export const NODE_BINARY_PATH = "/usr/local/bin/kubeha-node";
export const AGENT_METRICS_PORT = 9942;
export const STANDIN_SHUTDOWN_DELAY_MS = 3000;

const endpoint = (address: string, port: number) =>
  `${address.includes(":") ? `[${address}]` : address}:${port}`;

/** The etcd members, `host`'s own first: it answers even when links to the others fail. */
const ownMemberFirst = (cluster: Cluster, host: Host) =>
  [...new HostList(cluster.hosts).etcdMembers()].sort(
    (a, b) => Number(b.name === host.name) - Number(a.name === host.name),
  );

/** The agent config of `host`. */
export function renderAgentConfig(cluster: Cluster, host: Host): AgentConfig {
  const hosts = new HostList(cluster.hosts);
  const cp = cluster.controlPlane;
  const apiservers = hosts.controlplanes().map((h) => endpoint(h.address, cp.apiserverPort));
  const check = {
    kind: "https" as const,
    path: "/readyz",
    caFile: "/etc/kubernetes/pki/ca.crt",
    intervalMs: 300,
    timeoutMs: 500,
    fall: 2,
    rise: 3,
  };
  const frontends: AgentConfig["frontends"] = [];
  if (host.roles.includes("controlplane")) {
    if (cp.endpoint.mode === "vip") {
      frontends.push({
        name: "api-vip",
        listen: endpoint(cp.endpoint.vip, cp.endpoint.port),
        backends: apiservers,
        check,
        connectTimeoutMs: 500,
      });
    }
  } else {
    frontends.push({
      name: "api-local",
      listen: endpoint("127.0.0.1", cp.nodeLocalProxyPort),
      backends: apiservers,
      check,
      connectTimeoutMs: 500,
    });
  }
  if (!host.roles.includes("controlplane") || cp.endpoint.mode !== "vip")
    return { host: host.name, metricsPort: AGENT_METRICS_PORT, frontends, vips: [] };
  const members = ownMemberFirst(cluster, host);
  return {
    host: host.name,
    address: host.address,
    metricsPort: AGENT_METRICS_PORT,
    frontends,
    vips: [
      {
        name: "api",
        address: cp.endpoint.vip,
        frontend: "api-vip",
        leaseTtlSeconds: cp.endpoint.leaseTtlSeconds,
      },
    ],
    etcd: {
      endpoints: members.map(clientUrl),
      caFile: "/etc/kubernetes/pki/etcd/ca.crt",
      certFile: "/etc/kubernetes/pki/kubeha-agent-etcd-client.crt",
      keyFile: "/etc/kubernetes/pki/kubeha-agent-etcd-client.key",
    },
  };
}

/** The stand-in config of controlplane `host`. */
export function renderStandinConfig(cluster: Cluster, host: Host): StandinConfig {
  const pki = "/etc/kubernetes/pki";
  return {
    host: host.name,
    listen: endpoint(host.address, cluster.controlPlane.apiserverPort),
    certFile: `${pki}/apiserver.crt`,
    keyFile: `${pki}/apiserver.key`,
    etcd: {
      endpoints: ownMemberFirst(cluster, host).map(clientUrl),
      caFile: `${pki}/etcd/ca.crt`,
      certFile: `${pki}/apiserver-etcd-client.crt`,
      keyFile: `${pki}/apiserver-etcd-client.key`,
    },
    kubernetesVersion: cluster.kubernetes.version,
    shutdownDelayMs: STANDIN_SHUTDOWN_DELAY_MS,
  };
}

/**
 * The VIP lines of the agent's unit: non-local bind, so frontends on the VIP
 * listen before this host holds it; and after any exit of the agent, a
 * crash or kill -9 included, systemd removes the address before restarting it.
 */
function vipUnitLines(ep: Cluster["controlPlane"]["endpoint"]): string {
  if (ep.mode !== "vip") return "";
  const release = `ip -o addr show to ${ep.vip}/32 | while read -r n dev rest; do ip addr del ${ep.vip}/32 dev "$dev"; done`;
  return `ExecStartPre=/sbin/sysctl -q -w net.ipv4.ip_nonlocal_bind=1
ExecStopPost=/bin/sh -c '${release}'
`;
}

/** The agent's systemd unit. */
export function renderAgentUnit(cluster: Cluster, host: Host): string {
  const vip = host.roles.includes("controlplane") && cluster.controlPlane.endpoint.mode === "vip";
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
[Unit]
Description=kubeha agent on ${host.name}: L4 load balancer${vip ? ", API VIP" : ""} and metrics
After=network-online.target
Wants=network-online.target
# restart for ever: a host without its agent has no node-local proxy and no VIP
StartLimitIntervalSec=0

[Service]
${vip ? vipUnitLines(cluster.controlPlane.endpoint) : ""}ExecStart=${NODE_BINARY_PATH} agent --config ${AGENT_CONFIG_PATH}
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=1s
LimitNOFILE=1048576

[Install]
WantedBy=multi-user.target
`;
}

/** The stand-in's systemd unit. */
export function renderStandinUnit(host: Host): string {
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
[Unit]
Description=kubeha apiserver STAND-IN on ${host.name} (lab only; not Kubernetes)
After=network-online.target etcd.service
Wants=network-online.target

[Service]
ExecStart=${NODE_BINARY_PATH} standin --config ${STANDIN_CONFIG_PATH}
Restart=always
RestartSec=1s
TimeoutStopSec=${Math.ceil(STANDIN_SHUTDOWN_DELAY_MS / 1000) + 5}

[Install]
WantedBy=multi-user.target
`;
}
