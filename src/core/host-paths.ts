/**
 * Where kubeha puts things on a host, in one place: renderers, phases, the
 * etcdctl helpers and tests all name host files through this module, so no
 * phase carries a path literal. Certificates and kubeconfigs are named
 * relative to /etc/kubernetes, which is also their name under the state
 * directory's `pki/hosts/<host>/` (kubeadm's layout, see pki/inventory.ts).
 */

/** The directory every host's certificates and kubeconfigs live under. */
export const KUBERNETES_DIR = "/etc/kubernetes";
/** kubeha's own configuration files. */
export const KUBEHA_CONFIG_DIR = "/etc/kubeha";
/** Where kubeha writes systemd units. */
export const SYSTEMD_UNIT_DIR = "/etc/systemd/system";
/** Restarts a run owes a host (one empty file per service action), kept across interrupted runs. */
export const PENDING_DIR = "/var/lib/kubeha/pending";
/** The digests of the large files kubeha wrote, with their size, modification time and inode. */
export const DIGEST_DIR = "/var/lib/kubeha/digests";

/** The host path of a file named relative to /etc/kubernetes (`pki/ca.crt`). */
export const kubernetesPath = (rel: string) => `${KUBERNETES_DIR}/${rel}`;

/** A certificate and its key, relative to /etc/kubernetes. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}
const pair = (base: string): PemPair => ({ cert: `${base}.crt`, key: `${base}.key` });

/** Every certificate, key and kubeconfig a host can get, relative to /etc/kubernetes. */
export const HostPki = {
  ca: pair("pki/ca"),
  frontProxyCa: pair("pki/front-proxy-ca"),
  etcdCa: pair("pki/etcd/ca"),
  saKey: "pki/sa.key",
  saPub: "pki/sa.pub",
  apiserver: pair("pki/apiserver"),
  apiserverEtcdClient: pair("pki/apiserver-etcd-client"),
  apiserverKubeletClient: pair("pki/apiserver-kubelet-client"),
  frontProxyClient: pair("pki/front-proxy-client"),
  etcdServer: pair("pki/etcd/server"),
  etcdPeer: pair("pki/etcd/peer"),
  etcdHealthcheckClient: pair("pki/etcd/healthcheck-client"),
  agentEtcdClient: pair("pki/kubeha-agent-etcd-client"),
  controllerManagerServer: pair("pki/controller-manager-server"),
  schedulerServer: pair("pki/scheduler-server"),
  /** The kubelet's serving certificate, signed by the cluster CA (the apiserver verifies it). */
  kubeletServer: pair("pki/kubelet-server"),
  /** The key that encrypts Secrets in etcd (EncryptionConfiguration), 0600. */
  encryptionConfig: "encryption-config.yaml",
  kubeconfig: (user: "kubelet" | "kube-proxy" | "controller-manager" | "scheduler") => `${user}.conf`,
} as const;

/** The host path of a PKI file, e.g. `pkiPath(HostPki.ca.cert)` is /etc/kubernetes/pki/ca.crt. */
export const pkiPath = kubernetesPath;

/** systemd unit names of the services kubeha runs. */
export const Unit = {
  etcd: "etcd",
  agent: "kubeha-agent",
  apiserver: "kube-apiserver",
  controllerManager: "kube-controller-manager",
  scheduler: "kube-scheduler",
  nodeSetup: "kubeha-node-setup",
  containerd: "containerd",
  kubelet: "kubelet",
  kubeProxy: "kube-proxy",
  /** The lab's ingress controller: real nginx standing in for Traefik (render/ingress.ts). */
  ingress: "kubeha-ingress",
} as const;

/**
 * Units and files earlier kubeha versions deployed and this one does not:
 * `up` stops, disables and removes them (the lab's apiserver stand-in ran
 * under a unit of its own before it took the real kube-apiserver unit).
 */
export const RETIRED = [
  {
    unit: "kubeha-apiserver-standin",
    files: ["/etc/systemd/system/kubeha-apiserver-standin.service", "/etc/kubeha/apiserver-standin.json"],
  },
] as const;

/** The unit file of `unit`. */
export const unitPath = (unit: string) => `${SYSTEMD_UNIT_DIR}/${unit}.service`;

/** etcd's data directory (0700) and the marker naming the cluster it belongs to (the etcd CA's fingerprint). */
export const ETCD_DATA_DIR = "/var/lib/etcd/kubeha";
export const ETCD_CLUSTER_MARKER = "/var/lib/etcd/kubeha.cluster";
/** First-start settings of a member (initial cluster and state), written once. */
export const ETCD_BOOTSTRAP_ENV = `${KUBEHA_CONFIG_DIR}/etcd-bootstrap.env`;
/** etcd binaries: Debian's package, or uploaded ones. */
export const PACKAGED_ETCD = "/usr/bin/etcd";
export const UPLOADED_ETCD = "/usr/local/bin/etcd";
export const UPLOADED_ETCDCTL = "/usr/local/bin/etcdctl";
export const UPLOADED_ETCDUTL = "/usr/local/bin/etcdutl";

/** The self-contained host executable (the agent, and the lab's stand-ins) and the agent's config. */
export const NODE_BINARY = "/usr/local/bin/kubeha-node";
export const AGENT_CONFIG = `${KUBEHA_CONFIG_DIR}/agent.json`;
/** Where kubeha installs the Kubernetes binaries (or, in the lab, their stand-ins under the same names). */
export const kubeBinary = (name: string) => `/usr/local/bin/${name}`;
/** The control plane's own files under /etc/kubernetes. */
export const AUDIT_POLICY = kubernetesPath("audit-policy.yaml");
export const SCHEDULER_CONFIG = kubernetesPath("scheduler-config.yaml");
/** The apiserver's audit log, rotated by the apiserver itself. */
export const KUBELET_CONFIG = kubernetesPath("kubelet-config.yaml");
export const KUBE_PROXY_CONFIG = kubernetesPath("kube-proxy-config.yaml");
export const CONTAINERD_CONFIG = "/etc/containerd/config.toml";
/** Where an uploaded runtime goes (Debian's packages use /usr/bin, /usr/sbin/runc and /usr/lib/cni). */
export const UPLOADED_RUNTIME_BIN = "/usr/local/bin";
export const UPLOADED_RUNC = "/usr/local/sbin/runc";
export const UPLOADED_CNI_DIR = "/opt/cni/bin";
export const PACKAGED_CNI_DIR = "/usr/lib/cni";
/** Kernel modules and sysctls every node needs, loaded and set at boot. */
export const MODULES_LOAD_CONF = "/etc/modules-load.d/kubeha.conf";
export const SYSCTL_CONF = "/etc/sysctl.d/90-kubeha.conf";
/** A drop-in for the package's containerd.service. */
export const CONTAINERD_DROPIN = `${SYSTEMD_UNIT_DIR}/containerd.service.d/kubeha.conf`;
export const AUDIT_LOG = "/var/log/kubernetes/audit/audit.log";
/** The agent's Prometheus metrics, on 127.0.0.1. */
export const AGENT_METRICS_PORT = 9942;

/** The lab ingress controller's files, and the runtime directory whose `ready` file its ping answers 200 for. */
export const INGRESS_DIR = `${KUBEHA_CONFIG_DIR}/ingress`;
export const INGRESS_NGINX_CONF = `${INGRESS_DIR}/nginx.conf`;
export const INGRESS_RUN_DIR = "/run/kubeha-ingress";

/** etcd snapshots on a member host: scheduled ones and those taken before an `up` that changes etcd, 0700. */
export const ETCD_SNAPSHOT_DIR = "/var/lib/kubeha/etcd-snapshots";
/** The script the snapshot timer runs (render/etcd-snapshot.ts). */
export const ETCD_SNAPSHOT_SCRIPT = "/usr/local/sbin/kubeha-etcd-snapshot";
/** The snapshot timer and the service it starts. */
export const ETCD_SNAPSHOT_UNIT = "kubeha-etcd-snapshot";
/** Where a restore puts the snapshot on each member, and the restore a member's data directory came from. */
export const ETCD_RESTORE_DIR = "/var/lib/kubeha/etcd-restore";
export const ETCD_RESTORED_MARKER = "/var/lib/etcd/kubeha.restored";
