/**
 * Every host a Kubernetes node: its kernel settings, containerd (Debian's
 * package with a drop-in that restarts it, or an upstream release uploaded
 * with its own unit; kubeha's config.toml either way), the kubelet and kube-proxy,
 * each a unit running /usr/local/bin/<name> with the files of render/node.ts.
 * The kubelet reaches the API through the node-local proxy on hosts without
 * an apiserver and through its own apiserver on controlplane hosts (its
 * kubeconfig says which); kube-proxy likewise. Each serves its own host, so
 * changes go to every host at once: a restarted kubelet or kube-proxy leaves
 * running pods and programmed Services alone, and containerd's shims keep
 * containers running while it restarts.
 */
import { InternalError } from "../core/errors.js";
import {
  CONTAINERD_CONFIG,
  CONTAINERD_DROPIN,
  HostPki,
  KUBE_PROXY_CONFIG,
  KUBELET_CONFIG,
  MODULES_LOAD_CONF,
  SYSCTL_CONF,
  Unit,
  UPLOADED_CNI_DIR,
  UPLOADED_RUNC,
  UPLOADED_RUNTIME_BIN,
  unitPath,
} from "../core/host-paths.js";
import { type Flag, fieldProblems } from "../kubernetes/flags.js";
import { renderComponentUnit } from "../render/control-plane.js";
import {
  CONTAINERD_SOCKET,
  KUBE_PROXY_HEALTHZ_PORT,
  KUBELET_HEALTHZ_PORT,
  KUBELET_PORT,
  kubeletConfig,
  kubeletFlags,
  kubeProxyConfig,
  kubeProxyFlags,
  renderConfig,
  renderContainerdConfig,
} from "../render/node.js";
import type { Cluster, Host } from "../spec/defaults.js";
import { binaryFiles, pkiFilesOf } from "./control-plane.js";
import { ingressPackages } from "./ingress.js";
import type { HostService, ServiceFile } from "./service.js";

const everyHost = (cluster: Cluster) => cluster.hosts;
const WILDCARD = "0.0.0.0";

/** The runtime's packages, when it comes from the distribution (kubernetes.containerd.source: package). */
const RUNTIME_PACKAGES = ["containerd", "runc", "containernetworking-plugins"];
/** What kube-proxy programs rules with. */
const PROXY_PACKAGES = ["conntrack", "iptables"];

/** Debian's etcd, for members when the spec asks for the package. */
const ETCD_PACKAGES = ["etcd-server", "etcd-client"];

/** The distribution packages `host` needs. */
export function hostPackages(cluster: Cluster, host: Host): string[] {
  const etcd = host.roles.includes("etcd") && cluster.etcd.binaries.source === "package";
  const runtime = cluster.kubernetes.containerd.source === "package" ? RUNTIME_PACKAGES : [];
  return [...(etcd ? ETCD_PACKAGES : []), ...runtime, ...PROXY_PACKAGES, ...ingressPackages(cluster, host)];
}

/** A config file, refused (a bug in kubeha) when a field is not one its version knows. */
function configFile(
  cluster: Cluster,
  kind: "KubeletConfiguration" | "KubeProxyConfiguration",
  path: string,
  config: Record<string, unknown>,
): ServiceFile {
  const problems = fieldProblems(kind, cluster.kubernetes.version, config);
  if (problems.length > 0) throw new InternalError(`kubeha renders a ${kind} with ${problems.join(", ")}`);
  return { path, content: renderConfig(config), mode: 0o644 };
}

/** The sysctls a node needs: forwarding, and bridged traffic through the packet filter kube-proxy programs. */
const SYSCTLS = {
  "net.ipv4.ip_forward": "1",
  "net.bridge.bridge-nf-call-iptables": "1",
  "net.bridge.bridge-nf-call-ip6tables": "1",
};
const HEADER = "# Written by kubeha; changes are overwritten by `kubeha up`.\n";

/**
 * The kernel side of a node: overlay and br_netfilter loaded, the sysctls
 * set, at every boot (modules-load.d, sysctl.d) and now (a oneshot unit that
 * a changed file re-runs). A kernel without modprobe (or with the modules
 * built in) is fine: readiness checks the sysctls themselves.
 */
export const nodeSetup: HostService = {
  name: "node-setup",
  hosts: everyHost,
  listeners: () => [],
  unit: () => Unit.nodeSetup,
  files: () => [
    { path: MODULES_LOAD_CONF, content: `${HEADER}overlay\nbr_netfilter\n`, mode: 0o644 },
    {
      path: SYSCTL_CONF,
      content: `${HEADER}${Object.entries(SYSCTLS)
        .map(([k, v]) => `${k} = ${v}\n`)
        .join("")}`,
      mode: 0o644,
    },
    {
      path: unitPath(Unit.nodeSetup),
      content: `${HEADER}[Unit]
Description=kubeha: kernel modules and sysctls of a Kubernetes node
Before=containerd.service kubelet.service kube-proxy.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=-/sbin/modprobe -a overlay br_netfilter
ExecStart=/sbin/sysctl -q -p ${SYSCTL_CONF}

[Install]
WantedBy=multi-user.target
`,
      mode: 0o644,
    },
  ],
  certificates: () => [],
  readiness: () =>
    Object.entries(SYSCTLS)
      .map(([k, v]) => `[ "$(cat /proc/sys/${k.replace(/\./g, "/")})" = ${v} ]`)
      .join(" && "),
  rollout: "parallel",
};

/** containerd's unit for an uploaded release: upstream's containerd.service, with kubeha's restart. */
const CONTAINERD_UNIT = `${HEADER}[Unit]
Description=containerd container runtime
Documentation=https://containerd.io
After=network.target local-fs.target kubeha-node-setup.service

[Service]
ExecStartPre=-/sbin/modprobe overlay
ExecStart=${UPLOADED_RUNTIME_BIN}/containerd
Type=notify
Delegate=yes
KillMode=process
Restart=always
RestartSec=2s
LimitNPROC=infinity
LimitCORE=infinity
TasksMax=infinity
OOMScoreAdjust=-999

[Install]
WantedBy=multi-user.target
`;

export const containerd: HostService = {
  name: "containerd",
  hosts: everyHost,
  listeners: () => [],
  unit: () => Unit.containerd,
  files: (cluster, _host, artifacts) => [
    { path: CONTAINERD_CONFIG, content: renderContainerdConfig(cluster), mode: 0o644 },
    ...(artifacts.runtime
      ? [
          ...[...artifacts.runtime.containerd].map(([name, file]) => ({
            path: `${UPLOADED_RUNTIME_BIN}/${name}`,
            content: file,
            mode: 0o755,
          })),
          { path: UPLOADED_RUNC, content: artifacts.runtime.runc, mode: 0o755, onChange: "nothing" as const },
          ...[...artifacts.runtime.cni].map(([name, file]) => ({
            path: `${UPLOADED_CNI_DIR}/${name}`,
            content: file,
            mode: 0o755,
            onChange: "nothing" as const,
          })),
          { path: unitPath(Unit.containerd), content: CONTAINERD_UNIT, mode: 0o644 },
        ]
      : [
          // the package's unit, made to restart
          {
            path: CONTAINERD_DROPIN,
            content: `${HEADER}[Service]\nRestart=always\nRestartSec=2s\n`,
            mode: 0o644,
          },
        ]),
  ],
  certificates: () => [],
  readiness: () => `test -S ${CONTAINERD_SOCKET}`,
  rollout: "parallel",
};

function nodeComponent(spec: {
  name: string;
  binary: "kubelet" | "kube-proxy";
  unit: string;
  flags: (cluster: Cluster, host: Host) => Flag[];
  config: (cluster: Cluster, host: Host) => ServiceFile;
  reads: readonly string[];
  listeners: HostService["listeners"];
  readiness: string;
}): HostService {
  return {
    name: spec.name,
    hosts: everyHost,
    listeners: spec.listeners,
    unit: () => spec.unit,
    files: (cluster, host, artifacts) => [
      ...binaryFiles(cluster, spec.binary, artifacts),
      spec.config(cluster, host),
      {
        path: unitPath(spec.unit),
        content: renderComponentUnit(cluster, spec.binary, spec.flags(cluster, host)),
        mode: 0o644,
      },
    ],
    certificates: (cluster, host) => [...pkiFilesOf(spec.flags(cluster, host)), ...spec.reads],
    readiness: () => spec.readiness,
    rollout: "parallel",
  };
}

export const kubelet = nodeComponent({
  name: "kubelet",
  binary: "kubelet",
  unit: Unit.kubelet,
  flags: kubeletFlags,
  config: (cluster, host) =>
    configFile(cluster, "KubeletConfiguration", KUBELET_CONFIG, kubeletConfig(cluster, host)),
  reads: [HostPki.ca.cert, HostPki.kubeletServer.cert, HostPki.kubeletServer.key],
  listeners: (_cluster, host) => [
    { address: host.address, port: KUBELET_PORT, owner: "kubelet" },
    { address: "127.0.0.1", port: KUBELET_HEALTHZ_PORT, owner: "kubelet health" },
  ],
  readiness: `curl -sf -m 2 -o /dev/null http://127.0.0.1:${KUBELET_HEALTHZ_PORT}/healthz`,
});

export const kubeProxy = nodeComponent({
  name: "kube-proxy",
  binary: "kube-proxy",
  unit: Unit.kubeProxy,
  flags: (cluster) => kubeProxyFlags(cluster),
  config: (cluster, host) =>
    configFile(cluster, "KubeProxyConfiguration", KUBE_PROXY_CONFIG, kubeProxyConfig(cluster, host)),
  reads: [HostPki.kubeconfig("kube-proxy")],
  listeners: () => [{ address: WILDCARD, port: KUBE_PROXY_HEALTHZ_PORT, owner: "kube-proxy health" }],
  readiness: `curl -sf -m 2 -o /dev/null http://127.0.0.1:${KUBE_PROXY_HEALTHZ_PORT}/healthz`,
});
