/**
 * The kubeha agent on every host: the L4 load balancer (node-local proxy, or
 * the API VIP's frontend on controlplane hosts), the VIP manager on VIP
 * candidates, metrics. A new backend list only needs a reload (established
 * sessions are kept); the executable, the unit and its certificates need a
 * restart. Agents restart on every host at once: each serves its own host's
 * clients only, and a stopping holder hands the API VIP over cleanly (though
 * with every controlplane agent restarting together the VIP is briefly
 * unheld; rolling the VIP candidates comes with the control plane's rolling
 * changes).
 */
import {
  AGENT_CONFIG,
  AGENT_METRICS_PORT,
  HostPki,
  NODE_BINARY,
  Unit,
  unitPath,
} from "../core/host-paths.js";
import { agentVips, renderAgentConfig, renderAgentUnit } from "../render/agent.js";
import { isVipCandidate } from "../spec/vips.js";
import type { HostService, Listener } from "./service.js";

export const agent: HostService = {
  name: "agent",
  hosts: (cluster) => cluster.hosts,
  listeners(cluster, host) {
    const out: Listener[] = [];
    if (!host.roles.includes("controlplane")) {
      out.push({
        address: "127.0.0.1",
        port: cluster.controlPlane.nodeLocalProxyPort,
        owner: "node-local API proxy",
        path: ["spec", "controlPlane", "nodeLocalProxy", "port"],
      });
    }
    for (const vip of agentVips(cluster, host)) {
      out.push({
        address: vip.address,
        port: vip.ports[0] ?? 0,
        owner: `${vip.title} frontend`,
        path: ["spec", "controlPlane", "endpoint", "port"],
      });
    }
    out.push({ address: "127.0.0.1", port: AGENT_METRICS_PORT, owner: "kubeha agent metrics" });
    return out;
  },
  unit: () => Unit.agent,
  files: (cluster, host, artifacts) => [
    { path: NODE_BINARY, content: artifacts.nodeBinary, mode: 0o755 },
    {
      path: AGENT_CONFIG,
      content: `${JSON.stringify(renderAgentConfig(cluster, host), null, 2)}\n`,
      mode: 0o644,
      onChange: "reload",
    },
    { path: unitPath(Unit.agent), content: renderAgentUnit(cluster, host), mode: 0o644 },
  ],
  certificates: (cluster, host) => [
    HostPki.ca.cert,
    ...(isVipCandidate(cluster, host)
      ? [HostPki.etcdCa.cert, HostPki.agentEtcdClient.cert, HostPki.agentEtcdClient.key]
      : []),
  ],
  readiness: () => `curl -sf -m 2 -o /dev/null http://127.0.0.1:${AGENT_METRICS_PORT}/metrics`,
  rollout: "parallel",
};
