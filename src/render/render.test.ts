/** Every renderer's output for one spec, against committed snapshots (src/render/__snapshots__/). */
import { describe, it } from "node:test";
import { matchSnapshot } from "../core/snapshot-fixtures.js";
import { peerUrl } from "../etcd/urls.js";
import { DEFAULT_RUNTIME, type Host } from "../spec/defaults.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { renderAgentConfig, renderAgentUnit } from "./agent.js";
import {
  apiserverFlags,
  controllerManagerFlags,
  renderAuditPolicy,
  renderComponentUnit,
  renderSchedulerConfig,
  schedulerFlags,
} from "./control-plane.js";
import { renderSnapshotScript, renderSnapshotService, renderSnapshotTimer } from "./etcd-snapshot.js";
import { renderBootstrapEnv, renderEtcdUnit } from "./etcd-unit.js";
import { renderIngressNginxConf, renderIngressUnit } from "./ingress.js";
import {
  kubeletConfig,
  kubeletFlags,
  kubeProxyConfig,
  kubeProxyFlags,
  renderConfig,
  renderContainerdConfig,
} from "./node.js";
import { renderStandinWrapper } from "./standin.js";

const spec = baseSpec();
spec.spec.kubernetes = { binaries: { source: "standin" } };
spec.spec.controlPlane.endpoint.leaseTtlSeconds = 2;
spec.spec.hosts.push({ name: "cp6", address: "fd00::16", roles: ["etcd"] }); // an IPv6 member outside hostCidr
spec.spec.ingress = { vips: ["192.168.61.200", "192.168.61.201"], rebalance: { quietSeconds: 300 } };
const cluster = loadObject(spec).cluster;
const host = (name: string) => cluster.hosts.find((h) => h.name === name) as Host;
const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;
const snap = (name: string, text: string) => matchSnapshot("render", name, text);

describe("renderers", () => {
  it("etcd: the unit of a member, and first-start settings", () => {
    snap("cp1.etcd.service", renderEtcdUnit(cluster, host("cp1"), "/usr/bin/etcd"));
    snap("cp6.etcd.service", renderEtcdUnit(cluster, host("cp6"), "/usr/local/bin/etcd"));
    const members = ["cp1", "cp2", "cp3", "cp6"].map((n) => ({ name: n, url: peerUrl(host(n)) }));
    snap("etcd-bootstrap.env", renderBootstrapEnv(cluster, members, "new"));
  });

  it("etcd snapshots: the script of a member, the service and the timer", () => {
    snap("cp2.kubeha-etcd-snapshot", renderSnapshotScript(cluster, host("cp2"), 6));
    snap("kubeha-etcd-snapshot.service", renderSnapshotService(cluster));
    snap("kubeha-etcd-snapshot.timer", renderSnapshotTimer(12 * 3600));
  });

  it("agent: a VIP candidate's config and unit, and a worker's", () => {
    snap("cp1.agent.json", json(renderAgentConfig(cluster, host("cp1"))));
    snap("cp1.kubeha-agent.service", renderAgentUnit(cluster, host("cp1")));
    snap("w1.agent.json", json(renderAgentConfig(cluster, host("w1"))));
    snap("w1.kubeha-agent.service", renderAgentUnit(cluster, host("w1")));
  });

  it("ingress: an edge's agent (its ingress VIPs gated on the controller) and the lab controller", () => {
    snap("edge1.agent.json", json(renderAgentConfig(cluster, host("edge1"))));
    snap("edge1.kubeha-agent.service", renderAgentUnit(cluster, host("edge1")));
    snap("edge1.ingress-nginx.conf", renderIngressNginxConf(cluster, host("edge1")));
    snap("kubeha-ingress.service", renderIngressUnit());
  });

  it("control plane: the units of a controlplane host, its files, and a stand-in's wrapper", () => {
    snap(
      "cp2.kube-apiserver.service",
      renderComponentUnit(cluster, "kube-apiserver", apiserverFlags(cluster, host("cp2"))),
    );
    snap(
      "kube-controller-manager.service",
      renderComponentUnit(cluster, "kube-controller-manager", controllerManagerFlags(cluster)),
    );
    snap("kube-scheduler.service", renderComponentUnit(cluster, "kube-scheduler", schedulerFlags(cluster)));
    snap("scheduler-config.yaml", renderSchedulerConfig());
    snap("audit-policy.yaml", renderAuditPolicy());
    snap("kube-apiserver.standin", renderStandinWrapper(cluster, "kube-apiserver"));
  });

  it("node: kubelet's and kube-proxy's configs and units (a controlplane host, a worker), containerd's config", () => {
    for (const name of ["cp1", "w1"]) {
      snap(`${name}.kubelet-config.yaml`, renderConfig(kubeletConfig(cluster, host(name))));
      snap(
        `${name}.kubelet.service`,
        renderComponentUnit(cluster, "kubelet", kubeletFlags(cluster, host(name))),
      );
      snap(`${name}.kube-proxy-config.yaml`, renderConfig(kubeProxyConfig(cluster, host(name))));
    }
    snap("kube-proxy.service", renderComponentUnit(cluster, "kube-proxy", kubeProxyFlags(cluster)));
    snap("containerd.package.config.toml", renderContainerdConfig(cluster));
    const uploaded = {
      ...cluster,
      kubernetes: {
        ...cluster.kubernetes,
        containerd: { source: "download" as const, ...DEFAULT_RUNTIME, arch: "amd64" },
      },
    };
    snap("containerd.uploaded.config.toml", renderContainerdConfig(uploaded));
  });
});
