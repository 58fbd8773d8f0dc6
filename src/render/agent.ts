/**
 * Per-host configuration and unit of the kubeha agent, rendered from the
 * spec. Health-check timing sets how fast a dead apiserver leaves rotation: a
 * host that vanishes (no RST, checks time out) fails its first check within
 * interval + timeout = 0.8 s and its second (fall = 2) within 1.6 s, so its
 * sessions are closed in under 2 s; a refused connect takes it out at once.
 * The apiserver's shutdown delay (render/timing.ts) is longer than that
 * detection, so a stopping apiserver drains before it closes.
 */
import type { AgentConfig } from "../agent/config.js";
import { AGENT_CONFIG, AGENT_METRICS_PORT, HostPki, NODE_BINARY, pkiPath, Unit } from "../core/host-paths.js";
import { hostPort } from "../core/ip.js";
import { clientUrlsFor } from "../etcd/urls.js";
import { type Cluster, type Host, hostIp } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import { type FloatingAddress, vipsOf } from "../spec/vips.js";
import { ingressControllerCheck } from "./ingress.js";
import { LB_CHECK, lbDrainMs } from "./timing.js";

/** The floating addresses the agent on `host` fronts with a listener of its own: the API VIP. */
export const agentVips = (cluster: Cluster, host: Host): FloatingAddress[] =>
  vipsOf(cluster, host).filter((v) => v.role === "controlplane");

/** The ingress section of an edge's agent: its controller's ping gates the ingress VIPs. */
function ingressSection(cluster: Cluster, host: Host): AgentConfig["ingress"] {
  const vips = vipsOf(cluster, host).filter((v) => v.role === "edge");
  if (vips.length === 0) return undefined;
  const quiet = cluster.ingress?.rebalanceQuietSeconds;
  return {
    controller: ingressControllerCheck(),
    edges: new HostList(cluster.hosts).edges().map((h) => h.name),
    vips: vips.map((v) => ({ name: v.name, address: v.address, leaseTtlSeconds: v.leaseTtlSeconds })),
    ...(quiet !== undefined && { rebalanceQuietMs: quiet * 1000 }),
  };
}

/** The agent config of `host`. */
export function renderAgentConfig(cluster: Cluster, host: Host): AgentConfig {
  const hosts = new HostList(cluster.hosts);
  const cp = cluster.controlPlane;
  const apiservers = hosts.controlplanes().map((h) => hostPort(h.address, cp.apiserverPort));
  const check = { kind: "https" as const, path: "/readyz", caFile: pkiPath(HostPki.ca.cert), ...LB_CHECK };
  const frontend = (name: string, listen: string) => ({
    name,
    listen,
    backends: apiservers,
    check,
    connectTimeoutMs: 500,
    drainMs: lbDrainMs(cluster),
  });
  const vips = agentVips(cluster, host);
  const frontends: AgentConfig["frontends"] = [];
  if (!host.roles.includes("controlplane")) {
    frontends.push(frontend("api-local", hostPort("127.0.0.1", cp.nodeLocalProxyPort)));
  }
  for (const vip of vips)
    frontends.push(frontend(`${vip.name}-vip`, hostPort(vip.address, vip.ports[0] ?? 0)));
  const ingress = ingressSection(cluster, host);
  if (vips.length === 0 && !ingress)
    return { host: host.name, metricsPort: AGENT_METRICS_PORT, frontends, vips: [] };
  const etcdClient = HostPki.agentEtcdClient;
  return {
    host: host.name,
    address: hostIp(host),
    metricsPort: AGENT_METRICS_PORT,
    frontends,
    vips: vips.map((vip) => ({
      name: vip.name,
      address: vip.address,
      frontend: `${vip.name}-vip`,
      leaseTtlSeconds: vip.leaseTtlSeconds,
    })),
    ...(ingress && { ingress }),
    etcd: {
      endpoints: clientUrlsFor(hosts.etcdMembers(), host),
      caFile: pkiPath(HostPki.etcdCa.cert),
      certFile: pkiPath(etcdClient.cert),
      keyFile: pkiPath(etcdClient.key),
    },
  };
}

/**
 * The VIP lines of the agent's unit: non-local bind, so frontends on a VIP
 * listen before this host holds it; and after any exit of the agent, a
 * crash or kill -9 included, systemd removes the addresses before restarting it.
 */
function vipUnitLines(vips: readonly FloatingAddress[]): string {
  if (vips.length === 0) return "";
  const release = vips
    .map(
      (v) =>
        `ip -o addr show to ${v.address}/32 | while read -r n dev rest; do ip addr del ${v.address}/32 dev "$dev"; done`,
    )
    .join("; ");
  return `ExecStartPre=/sbin/sysctl -q -w net.ipv4.ip_nonlocal_bind=1
ExecStopPost=/bin/sh -c '${release}'
`;
}

/**
 * The agent's systemd unit. On an edge it starts after the ingress
 * controller's units, so it stops before them: on a reboot or power-down
 * the VIPs move first, then the controller drains.
 */
export function renderAgentUnit(cluster: Cluster, host: Host): string {
  const vips = vipsOf(cluster, host);
  const held = [
    ...(vips.some((v) => v.role === "controlplane") ? ["API VIP"] : []),
    ...(vips.some((v) => v.role === "edge") ? ["ingress VIPs"] : []),
  ];
  const edge = vips.some((v) => v.role === "edge");
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
[Unit]
Description=kubeha agent on ${host.name}: L4 load balancer, ${[...held, "metrics"].join(", ")}
After=network-online.target${edge ? ` ${Unit.ingress}.service ${Unit.containerd}.service ${Unit.kubelet}.service` : ""}
Wants=network-online.target
# restart for ever: a host without its agent has no node-local proxy and no VIP
StartLimitIntervalSec=0

[Service]
${vipUnitLines(vips)}ExecStart=${NODE_BINARY} agent --config ${AGENT_CONFIG}
ExecReload=/bin/kill -HUP $MAINPID
Restart=always
RestartSec=1s
LimitNOFILE=1048576
# ahead of the host's other work: the VIP fence and the address changes it spawns must not wait for a busy CPU
Nice=-10

[Install]
WantedBy=multi-user.target
`;
}
