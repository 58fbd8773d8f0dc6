/**
 * The control plane of a controlplane host as systemd units: kube-apiserver,
 * kube-controller-manager and kube-scheduler with the flags kubeadm v1.34
 * renders for an HA cluster with external etcd
 * (reference/kubernetes-v1.34/kubeadm-flags.md), and what HA and hardening
 * add to them. Every difference from kubeadm is listed with its reason in
 * KUBEADM_DIFFERENCES, which the parity test and the README's table read.
 *
 * The same units run the real binaries and the lab's stand-ins (installed
 * under the real names), so a wrong path, flag or certificate breaks the lab
 * as it would break a real cluster.
 */
import {
  AUDIT_LOG,
  AUDIT_POLICY,
  HostPki,
  kubeBinary,
  kubernetesPath,
  pkiPath,
  SCHEDULER_CONFIG,
} from "../core/host-paths.js";
import { clientUrlsFor } from "../etcd/urls.js";
import { type Component, type Flag, toArgs, withExtra } from "../kubernetes/flags.js";
import { type Cluster, type Host, hostIp } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import { shutdownDelaySeconds } from "./timing.js";

/** The secure ports of the controller manager and the scheduler (their defaults), on 127.0.0.1. */
export const CONTROLLER_MANAGER_PORT = 10257;
export const SCHEDULER_PORT = 10259;

/** What the unit gives a stopping apiserver after its shutdown delay to finish requests and watches. */
const DRAIN_SECONDS = 60;

const ca = pkiPath(HostPki.ca.cert);
const kubeconfigPath = (user: "controller-manager" | "scheduler") => kubernetesPath(HostPki.kubeconfig(user));

/** The flags of kube-apiserver on controlplane `host`. */
export function apiserverFlags(cluster: Cluster, host: Host): Flag[] {
  const members = new HostList(cluster.hosts).etcdMembers();
  return withExtra(
    [
      ["advertise-address", hostIp(host)],
      ["allow-privileged", "true"],
      ["audit-log-maxage", "30"],
      ["audit-log-maxbackup", "10"],
      ["audit-log-maxsize", "100"],
      ["audit-log-path", AUDIT_LOG],
      ["audit-policy-file", AUDIT_POLICY],
      ["authorization-mode", "Node,RBAC"],
      ["bind-address", hostIp(host)],
      ["client-ca-file", ca],
      ["enable-admission-plugins", "NodeRestriction"],
      ["encryption-provider-config", kubernetesPath(HostPki.encryptionConfig)],
      ["endpoint-reconciler-type", "lease"],
      ["etcd-cafile", pkiPath(HostPki.etcdCa.cert)],
      ["etcd-certfile", pkiPath(HostPki.apiserverEtcdClient.cert)],
      ["etcd-keyfile", pkiPath(HostPki.apiserverEtcdClient.key)],
      ["etcd-servers", clientUrlsFor(members, host).join(",")],
      ["kubelet-certificate-authority", ca],
      ["kubelet-client-certificate", pkiPath(HostPki.apiserverKubeletClient.cert)],
      ["kubelet-client-key", pkiPath(HostPki.apiserverKubeletClient.key)],
      ["kubelet-preferred-address-types", "InternalIP,ExternalIP,Hostname"],
      ["profiling", "false"],
      ["proxy-client-cert-file", pkiPath(HostPki.frontProxyClient.cert)],
      ["proxy-client-key-file", pkiPath(HostPki.frontProxyClient.key)],
      ["requestheader-allowed-names", "front-proxy-client"],
      ["requestheader-client-ca-file", pkiPath(HostPki.frontProxyCa.cert)],
      ["requestheader-extra-headers-prefix", "X-Remote-Extra-"],
      ["requestheader-group-headers", "X-Remote-Group"],
      ["requestheader-username-headers", "X-Remote-User"],
      ["secure-port", String(cluster.controlPlane.apiserverPort)],
      ["service-account-issuer", "https://kubernetes.default.svc.cluster.local"],
      ["service-account-key-file", pkiPath(HostPki.saPub)],
      ["service-account-signing-key-file", pkiPath(HostPki.saKey)],
      ["service-cluster-ip-range", cluster.network.serviceCidr],
      ["shutdown-delay-duration", `${shutdownDelaySeconds(cluster)}s`],
      ["tls-cert-file", pkiPath(HostPki.apiserver.cert)],
      ["tls-min-version", "VersionTLS12"],
      ["tls-private-key-file", pkiPath(HostPki.apiserver.key)],
    ],
    cluster.kubernetes.apiserver.extraArgs,
  );
}

/** The flags of kube-controller-manager. */
export function controllerManagerFlags(cluster: Cluster): Flag[] {
  const conf = kubeconfigPath("controller-manager");
  return withExtra(
    [
      ["allocate-node-cidrs", "true"],
      ["authentication-kubeconfig", conf],
      ["authorization-kubeconfig", conf],
      ["bind-address", "127.0.0.1"],
      ["client-ca-file", ca],
      ["cluster-cidr", cluster.network.podCidr],
      ["cluster-name", cluster.name],
      ["cluster-signing-cert-file", ca],
      ["cluster-signing-key-file", pkiPath(HostPki.ca.key)],
      ["kubeconfig", conf],
      ["leader-elect", "true"],
      ["profiling", "false"],
      ["requestheader-client-ca-file", pkiPath(HostPki.frontProxyCa.cert)],
      ["root-ca-file", ca],
      ["secure-port", String(CONTROLLER_MANAGER_PORT)],
      ["service-account-private-key-file", pkiPath(HostPki.saKey)],
      ["service-cluster-ip-range", cluster.network.serviceCidr],
      ["tls-cert-file", pkiPath(HostPki.controllerManagerServer.cert)],
      ["tls-min-version", "VersionTLS12"],
      ["tls-private-key-file", pkiPath(HostPki.controllerManagerServer.key)],
      ["use-service-account-credentials", "true"],
    ],
    cluster.kubernetes.controllerManager.extraArgs,
  );
}

/** The flags of kube-scheduler: its kubeconfig, leader election and profiling go in its config file (the flags are deprecated). */
export function schedulerFlags(cluster: Cluster): Flag[] {
  const conf = kubeconfigPath("scheduler");
  return withExtra(
    [
      ["authentication-kubeconfig", conf],
      ["authorization-kubeconfig", conf],
      ["bind-address", "127.0.0.1"],
      ["config", SCHEDULER_CONFIG],
      ["secure-port", String(SCHEDULER_PORT)],
      ["tls-cert-file", pkiPath(HostPki.schedulerServer.cert)],
      ["tls-min-version", "VersionTLS12"],
      ["tls-private-key-file", pkiPath(HostPki.schedulerServer.key)],
    ],
    cluster.kubernetes.scheduler.extraArgs,
  );
}

/** The scheduler's KubeSchedulerConfiguration. */
export function renderSchedulerConfig(): string {
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
clientConnection:
  kubeconfig: ${kubeconfigPath("scheduler")}
leaderElection:
  leaderElect: true
enableProfiling: false
enableContentionProfiling: false
`;
}

/**
 * The audit policy: nothing for health probes and the noisiest read-only
 * system traffic, metadata only for Secrets, ConfigMaps and token reviews
 * (their bodies are secrets), request bodies for other changes, metadata for
 * the rest. Logged to AUDIT_LOG, rotated at 100 MB, 10 files, 30 days.
 */
export function renderAuditPolicy(): string {
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages:
  - RequestReceived
rules:
  - level: None
    nonResourceURLs: ["/healthz*", "/livez*", "/readyz*", "/version"]
  - level: None
    users: ["system:kube-proxy"]
    verbs: ["watch"]
    resources:
      - group: ""
        resources: ["endpoints", "services", "services/status"]
  - level: None
    userGroups: ["system:nodes"]
    verbs: ["get"]
    resources:
      - group: ""
        resources: ["nodes", "nodes/status"]
  - level: None
    resources:
      - group: ""
        resources: ["events"]
      - group: "coordination.k8s.io"
        resources: ["leases"]
  - level: Metadata
    resources:
      - group: ""
        resources: ["secrets", "configmaps", "serviceaccounts/token"]
      - group: "authentication.k8s.io"
        resources: ["tokenreviews"]
  - level: Request
    verbs: ["create", "update", "patch", "delete", "deletecollection"]
  - level: Metadata
`;
}

/** What each component starts after on its host. */
/** What a component starts after, besides network-online.target. */
const AFTER: Record<Component, string> = {
  "kube-apiserver": "etcd.service",
  "kube-controller-manager": "kube-apiserver.service",
  "kube-scheduler": "kube-apiserver.service",
  kubelet: "containerd.service",
  "kube-proxy": "",
};

const DOCS: Record<Component, string> = {
  "kube-apiserver": "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-apiserver/",
  "kube-controller-manager":
    "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-controller-manager/",
  "kube-scheduler": "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-scheduler/",
  kubelet: "https://kubernetes.io/docs/reference/command-line-tools-reference/kubelet/",
  "kube-proxy": "https://kubernetes.io/docs/reference/command-line-tools-reference/kube-proxy/",
};

/**
 * The systemd unit of a control-plane component. The apiserver's stop
 * timeout covers its shutdown delay and a drain; the others stop at once
 * (a new leader takes over within the lease duration).
 */
export function renderComponentUnit(cluster: Cluster, component: Component, flags: readonly Flag[]): string {
  const standin = cluster.kubernetes.binaries.source === "standin";
  const stop = component === "kube-apiserver" ? shutdownDelaySeconds(cluster) + DRAIN_SECONDS : 30;
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
[Unit]
Description=Kubernetes ${component} ${cluster.kubernetes.version}${standin ? " (kubeha lab STAND-IN, not Kubernetes)" : ""}
Documentation=${DOCS[component]}
After=${["network-online.target", AFTER[component]].filter(Boolean).join(" ")}
Wants=network-online.target

[Service]
ExecStart=${kubeBinary(component)} \\
${toArgs(flags)
  .map((a) => `  ${a}`)
  .join(" \\\n")}
Restart=always
RestartSec=2s
TimeoutStopSec=${stop}
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

/** One way kubeha's command line differs from kubeadm's for the same topology, and why. */
export interface KubeadmDifference {
  readonly component: "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";
  readonly flag: string;
  /** kubeadm's value; undefined when kubeadm does not set the flag. */
  readonly kubeadm?: string;
  /** kubeha's value; undefined when kubeha leaves the flag out. `<...>` marks a per-host or per-cluster value. */
  readonly kubeha?: string;
  readonly reason: string;
}

const AUDIT =
  "audit logging, kept 30 days in 10 files of 100 MB (CIS 1.2.16-1.2.19); kubeadm leaves auditing off";
const NO_BOOTSTRAP = "kubeha issues every node's certificate itself: no bootstrap tokens to accept";
const TLS12 = "no TLS 1.0/1.1 clients";
const SCHEDULER_CONFIG_REASON =
  "deprecated flag in v1.34 (ignored with --config): kubeha sets it in the scheduler's config file";

/** Every difference from kubeadm v1.34 (reference/kubernetes-v1.34/kubeadm-flags.md); the parity test holds this list to the rendered flags. */
export const KUBEADM_DIFFERENCES: readonly KubeadmDifference[] = [
  { component: "kube-apiserver", flag: "audit-log-maxage", kubeha: "30", reason: AUDIT },
  { component: "kube-apiserver", flag: "audit-log-maxbackup", kubeha: "10", reason: AUDIT },
  { component: "kube-apiserver", flag: "audit-log-maxsize", kubeha: "100", reason: AUDIT },
  { component: "kube-apiserver", flag: "audit-log-path", kubeha: AUDIT_LOG, reason: AUDIT },
  { component: "kube-apiserver", flag: "audit-policy-file", kubeha: AUDIT_POLICY, reason: AUDIT },
  {
    component: "kube-apiserver",
    flag: "bind-address",
    kubeha: "<this host's address>",
    reason:
      "the API VIP's load balancer listens on the same port at the VIP on controlplane hosts; binding every address would take it",
  },
  { component: "kube-apiserver", flag: "enable-bootstrap-token-auth", kubeadm: "true", reason: NO_BOOTSTRAP },
  {
    component: "kube-apiserver",
    flag: "encryption-provider-config",
    kubeha: kubernetesPath(HostPki.encryptionConfig),
    reason:
      "Secrets encrypted at rest with secretbox, the key generated once and kept with the PKI (CIS 1.2.27; RKE has it)",
  },
  {
    component: "kube-apiserver",
    flag: "endpoint-reconciler-type",
    kubeha: "lease",
    reason: "the default, pinned: a crashed apiserver leaves the kubernetes Service within 15 s",
  },
  {
    component: "kube-apiserver",
    flag: "kubelet-certificate-authority",
    kubeha: ca,
    reason:
      "the apiserver verifies each kubelet's serving certificate (kubeha signs them with the cluster CA; kubeadm's are self-signed and unverified; CIS 1.2.5)",
  },
  {
    component: "kube-apiserver",
    flag: "profiling",
    kubeha: "false",
    reason: "no profiling endpoint (CIS 1.2.15)",
  },
  {
    component: "kube-apiserver",
    flag: "shutdown-delay-duration",
    kubeha: "<3s behind kubeha's load balancers, 15s behind yours>",
    reason:
      "a stopping apiserver fails /readyz and keeps serving until every load balancer has taken it out: no failed request in a rolling restart",
  },
  { component: "kube-apiserver", flag: "tls-min-version", kubeha: "VersionTLS12", reason: TLS12 },
  {
    component: "kube-controller-manager",
    flag: "cluster-name",
    kubeadm: "kubernetes",
    kubeha: "<metadata.name>",
    reason: "the spec's cluster name",
  },
  {
    component: "kube-controller-manager",
    flag: "controllers",
    kubeadm: "*,bootstrapsigner,tokencleaner",
    reason: NO_BOOTSTRAP,
  },
  {
    component: "kube-controller-manager",
    flag: "profiling",
    kubeha: "false",
    reason: "no profiling endpoint (CIS 1.3.2)",
  },
  {
    component: "kube-controller-manager",
    flag: "secure-port",
    kubeha: String(CONTROLLER_MANAGER_PORT),
    reason: "the default, pinned: the readiness probe and the port-clash check use it",
  },
  ...(["tls-cert-file", "tls-private-key-file"] as const).map((flag) => ({
    component: "kube-controller-manager" as const,
    flag,
    kubeha: pkiPath(
      flag === "tls-cert-file" ? HostPki.controllerManagerServer.cert : HostPki.controllerManagerServer.key,
    ),
    reason: "a serving certificate from the cluster CA instead of a self-signed one, so probes verify it",
  })),
  { component: "kube-controller-manager", flag: "tls-min-version", kubeha: "VersionTLS12", reason: TLS12 },
  {
    component: "kube-scheduler",
    flag: "config",
    kubeha: SCHEDULER_CONFIG,
    reason: "KubeSchedulerConfiguration: kubeconfig, leader election, profiling off (CIS 1.4.1)",
  },
  {
    component: "kube-scheduler",
    flag: "kubeconfig",
    kubeadm: kubeconfigPath("scheduler"),
    reason: SCHEDULER_CONFIG_REASON,
  },
  { component: "kube-scheduler", flag: "leader-elect", kubeadm: "true", reason: SCHEDULER_CONFIG_REASON },
  {
    component: "kube-scheduler",
    flag: "secure-port",
    kubeha: String(SCHEDULER_PORT),
    reason: "the default, pinned: the readiness probe and the port-clash check use it",
  },
  ...(["tls-cert-file", "tls-private-key-file"] as const).map((flag) => ({
    component: "kube-scheduler" as const,
    flag,
    kubeha: pkiPath(flag === "tls-cert-file" ? HostPki.schedulerServer.cert : HostPki.schedulerServer.key),
    reason: "a serving certificate from the cluster CA instead of a self-signed one, so probes verify it",
  })),
  { component: "kube-scheduler", flag: "tls-min-version", kubeha: "VersionTLS12", reason: TLS12 },
];
