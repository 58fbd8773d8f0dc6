/**
 * Every host a Kubernetes node: containerd's config, kubelet's
 * KubeletConfiguration and command line, kube-proxy's
 * KubeProxyConfiguration and command line. What kubeadm v1.34 writes
 * (reference/kubernetes-v1.34/kubelet.md) plus what it leaves out: a kubelet
 * serving certificate signed by the cluster CA (kubeadm's is self-signed, so
 * the apiserver cannot verify it), node labels and taints from the spec.
 * Config files are rendered from objects, so their field names are checked
 * against the reference of the version (flags.ts fieldProblems) before
 * anything is written.
 */
import { stringify } from "yaml";
import {
  HostPki,
  KUBE_PROXY_CONFIG,
  KUBELET_CONFIG,
  kubernetesPath,
  PACKAGED_CNI_DIR,
  pkiPath,
  UPLOADED_CNI_DIR,
} from "../core/host-paths.js";
import { cidrAddress, parseCidr } from "../core/ip.js";
import { type Flag, minorOf, withExtra } from "../kubernetes/flags.js";
import { type Cluster, type Host, hostIp } from "../spec/defaults.js";

export const KUBELET_PORT = 10250;
export const KUBELET_HEALTHZ_PORT = 10248;
export const KUBE_PROXY_HEALTHZ_PORT = 10256;
export const KUBE_PROXY_METRICS_PORT = 10249;
export const CONTAINERD_SOCKET = "/run/containerd/containerd.sock";
export const CNI_CONF_DIR = "/etc/cni/net.d";

/** Where the CNI plugins are: Debian's package's directory, or where kubeha uploads the release's. */
export const cniBinDir = (cluster: Cluster) =>
  cluster.kubernetes.containerd.source === "package" ? PACKAGED_CNI_DIR : UPLOADED_CNI_DIR;

/** The pause image kubeadm pins per minor version. */
const PAUSE_IMAGES: Readonly<Record<string, string>> = { "1.34": "registry.k8s.io/pause:3.10.1" };

export const pauseImage = (cluster: Cluster) =>
  PAUSE_IMAGES[minorOf(cluster.kubernetes.version)] ?? "registry.k8s.io/pause:3.10.1";

/** The cluster DNS Service's address: the 10th of the service range, as kubeadm picks it. */
export function clusterDnsIp(cluster: Cluster): string {
  const range = parseCidr(cluster.network.serviceCidr);
  if (!range) throw new Error(`serviceCidr ${cluster.network.serviceCidr} is not a range`);
  return cidrAddress(range, 10);
}

/** Labels kubeha puts on every node from the roles of its host (the kubelet may set kubeha.io/ labels itself). */
export const ROLE_LABEL_PREFIX = "kubeha.io/";

/** The taint that keeps ordinary pods off controlplane hosts that are not workers. */
export const CONTROL_PLANE_TAINT = { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" };
/** The taint that keeps everything but the ingress controller off dedicated edge hosts. */
export const EDGE_TAINT = { key: `${ROLE_LABEL_PREFIX}edge`, effect: "NoSchedule" };

/** The node labels of `host`: one per role, then the spec's. */
export function nodeLabels(host: Host): Record<string, string> {
  return {
    ...Object.fromEntries(host.roles.map((r) => [`${ROLE_LABEL_PREFIX}${r}`, "true"])),
    ...host.labels,
  };
}

/** The taints `host` registers with: the spec's, the control-plane taint unless it is a worker, the edge taint when edges are dedicated. */
export function nodeTaints(cluster: Cluster, host: Host) {
  const taints: { key: string; value?: string; effect: string }[] = host.taints.map((t) => ({ ...t }));
  const add = (t: { key: string; effect: string }) => {
    if (!taints.some((x) => x.key === t.key && x.effect === t.effect)) taints.push(t);
  };
  if (host.roles.includes("controlplane") && !host.roles.includes("worker")) add(CONTROL_PLANE_TAINT);
  if (host.roles.includes("edge") && cluster.ingress?.dedicatedEdges) add(EDGE_TAINT);
  return taints;
}

/** The KubeletConfiguration of `host`. */
export function kubeletConfig(cluster: Cluster, host: Host): Record<string, unknown> {
  const swap = cluster.kubernetes.kubelet.swap;
  return {
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: hostIp(host),
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: KUBELET_HEALTHZ_PORT,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: pkiPath(HostPki.ca.cert) },
    },
    authorization: { mode: "Webhook" },
    tlsCertFile: pkiPath(HostPki.kubeletServer.cert),
    tlsPrivateKeyFile: pkiPath(HostPki.kubeletServer.key),
    tlsMinVersion: "VersionTLS12",
    // its client certificate is kubeha's (kubelet.conf), renewed by `kubeha up`, not by CSRs
    rotateCertificates: false,
    serverTLSBootstrap: false,
    cgroupDriver: "systemd",
    containerRuntimeEndpoint: `unix://${CONTAINERD_SOCKET}`,
    clusterDomain: cluster.kubernetes.clusterDomain,
    clusterDNS: [clusterDnsIp(cluster)],
    staticPodPath: kubernetesPath("manifests"),
    failSwapOn: swap === "fail",
    ...(swap !== "fail" && { memorySwap: { swapBehavior: swap } }),
    registerNode: true,
    registerWithTaints: nodeTaints(cluster, host),
  };
}

/** kubelet's command line: the config file, the kubeconfig, the node's name, address and labels. */
export function kubeletFlags(cluster: Cluster, host: Host): Flag[] {
  const labels = Object.entries(nodeLabels(host))
    .map(([k, v]) => `${k}=${v}`)
    .join(",");
  return withExtra(
    [
      ["config", KUBELET_CONFIG],
      ["hostname-override", host.name],
      ["kubeconfig", kubernetesPath(HostPki.kubeconfig("kubelet"))],
      ["node-ip", hostIp(host)],
      ["node-labels", labels],
    ],
    cluster.kubernetes.kubelet.extraArgs,
  );
}

/** The KubeProxyConfiguration of `host`. */
export function kubeProxyConfig(cluster: Cluster, host: Host): Record<string, unknown> {
  return {
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    clientConnection: { kubeconfig: kubernetesPath(HostPki.kubeconfig("kube-proxy")) },
    hostnameOverride: host.name,
    bindAddress: "0.0.0.0",
    healthzBindAddress: `0.0.0.0:${KUBE_PROXY_HEALTHZ_PORT}`,
    metricsBindAddress: `127.0.0.1:${KUBE_PROXY_METRICS_PORT}`,
    mode: cluster.kubernetes.kubeProxy.mode,
    clusterCIDR: cluster.network.podCidr,
    // NodePorts on the host's own address, not on every address it has (VIPs included)
    nodePortAddresses: ["primary"],
  };
}

/** kube-proxy's command line: its config file says everything. */
export function kubeProxyFlags(cluster: Cluster): Flag[] {
  return withExtra([["config", KUBE_PROXY_CONFIG]], cluster.kubernetes.kubeProxy.extraArgs);
}

/** A config object as the YAML file a component reads. */
export const renderConfig = (config: Record<string, unknown>) =>
  `# Written by kubeha; changes are overwritten by \`kubeha up\`.\n${stringify(config)}`;

/**
 * containerd's config.toml (version 2, containerd 1.6/1.7): the CRI plugin
 * with runc through the systemd cgroup driver (kubelet's), the pause image of
 * the Kubernetes version pinned, the CNI plugins where Debian puts them.
 */
export function renderContainerdConfig(cluster: Cluster): string {
  const cri = `plugins."io.containerd.grpc.v1.cri"`;
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
version = 2

[${cri}]
  sandbox_image = "${pauseImage(cluster)}"

[${cri}.containerd]
  snapshotter = "overlayfs"
  default_runtime_name = "runc"

[${cri}.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"

[${cri}.containerd.runtimes.runc.options]
  SystemdCgroup = true

[${cri}.cni]
  bin_dir = "${cniBinDir(cluster)}"
  conf_dir = "${CNI_CONF_DIR}"
`;
}
