/**
 * The cluster add-ons as typed Kubernetes objects (kubernetes-models, whose
 * classes and schemas are generated from the Kubernetes v1.34 OpenAPI
 * document): TypeScript refuses a field the API does not have, and each
 * object is validated against the OpenAPI schema (types, enums, required
 * fields) before it is written or applied.
 *
 * - RBAC: the apiserver's kubelet client may use every kubelet API
 *   (system:kubelet-api-admin), so it need not be in system:masters.
 * - The pod network: flannel with the host-gw backend. Every host is on one
 *   L2 segment (network.hostCidr), so each node routes the other nodes' pod
 *   subnets straight to their host addresses: no encapsulation, no MTU
 *   loss, no overlay to debug, and the pod subnets come from the controller
 *   manager (--allocate-node-cidrs). It does not enforce NetworkPolicy; a
 *   cluster that needs it runs Calico instead (README).
 * - CoreDNS: two replicas that never share a host, a PodDisruptionBudget
 *   that keeps one running through drains, the kube-dns Service at the
 *   cluster DNS address the kubelets are given.
 * - The ingress controller (traefik.ts): Traefik on the edge hosts' own
 *   network, when the spec has an ingress section and an edge host.
 */

import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { CNI_CONF_DIR, clusterDnsIp, cniBinDir } from "../render/node.js";
import type { Cluster } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import { ADDON_IMAGES, type Addon, type AddonObject, labels } from "./common.js";
import { traefik } from "./traefik.js";

export { ADDON_IMAGES, type Addon, type AddonObject, MANAGED_BY } from "./common.js";

function rbac(): Addon {
  return {
    name: "rbac",
    objects: [
      new ClusterRoleBinding({
        metadata: { name: "kubeha:apiserver-kubelet-api-admin", labels: labels() },
        roleRef: {
          apiGroup: "rbac.authorization.k8s.io",
          kind: "ClusterRole",
          name: "system:kubelet-api-admin",
        },
        subjects: [
          { apiGroup: "rbac.authorization.k8s.io", kind: "User", name: "kube-apiserver-kubelet-client" },
        ],
      }),
    ],
    rollouts: [],
  };
}

function flannel(cluster: Cluster): Addon {
  const ns = "kube-flannel";
  const app = { app: "flannel", "k8s-app": "flannel" };
  const cniConf = {
    name: "cbr0",
    cniVersion: "0.3.1",
    plugins: [
      { type: "flannel", delegate: { hairpinMode: true, isDefaultGateway: true } },
      { type: "portmap", capabilities: { portMappings: true } },
    ],
  };
  const netConf = { Network: cluster.network.podCidr, EnableNFTables: false, Backend: { Type: "host-gw" } };
  return {
    name: "pod-network",
    objects: [
      new Namespace({
        metadata: { name: ns, labels: labels({ "pod-security.kubernetes.io/enforce": "privileged" }) },
      }),
      new ServiceAccount({ metadata: { name: "flannel", namespace: ns, labels: labels() } }),
      new ClusterRole({
        metadata: { name: "flannel", labels: labels() },
        rules: [
          { apiGroups: [""], resources: ["pods"], verbs: ["get"] },
          { apiGroups: [""], resources: ["nodes"], verbs: ["get", "list", "watch"] },
          { apiGroups: [""], resources: ["nodes/status"], verbs: ["patch"] },
        ],
      }),
      new ClusterRoleBinding({
        metadata: { name: "flannel", labels: labels() },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "flannel" },
        subjects: [{ kind: "ServiceAccount", name: "flannel", namespace: ns }],
      }),
      new ConfigMap({
        metadata: { name: "kube-flannel-cfg", namespace: ns, labels: labels(app) },
        data: {
          "cni-conf.json": `${JSON.stringify(cniConf, null, 2)}\n`,
          "net-conf.json": `${JSON.stringify(netConf, null, 2)}\n`,
        },
      }),
      new DaemonSet({
        metadata: { name: "kube-flannel-ds", namespace: ns, labels: labels(app) },
        spec: {
          selector: { matchLabels: app },
          updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1 } },
          template: {
            metadata: { labels: app },
            spec: {
              hostNetwork: true,
              priorityClassName: "system-node-critical",
              serviceAccountName: "flannel",
              // every node, whatever its taints: without it no pod there gets an address
              tolerations: [{ operator: "Exists" }],
              initContainers: [
                {
                  name: "install-cni-plugin",
                  image: ADDON_IMAGES.flannelCniPlugin,
                  command: ["cp"],
                  args: ["-f", "/flannel", "/opt/cni/bin/flannel"],
                  volumeMounts: [{ name: "cni-plugin", mountPath: "/opt/cni/bin" }],
                },
                {
                  name: "install-cni",
                  image: ADDON_IMAGES.flannel,
                  command: ["cp"],
                  args: ["-f", "/etc/kube-flannel/cni-conf.json", "/etc/cni/net.d/10-flannel.conflist"],
                  volumeMounts: [
                    { name: "cni", mountPath: "/etc/cni/net.d" },
                    { name: "flannel-cfg", mountPath: "/etc/kube-flannel/" },
                  ],
                },
              ],
              containers: [
                {
                  name: "kube-flannel",
                  image: ADDON_IMAGES.flannel,
                  command: ["/opt/bin/flanneld"],
                  args: ["--ip-masq", "--kube-subnet-mgr"],
                  resources: { requests: { cpu: "100m", memory: "50Mi" } },
                  securityContext: { privileged: false, capabilities: { add: ["NET_ADMIN", "NET_RAW"] } },
                  env: [
                    { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
                    { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
                    { name: "EVENT_QUEUE_DEPTH", value: "5000" },
                  ],
                  volumeMounts: [
                    { name: "run", mountPath: "/run/flannel" },
                    { name: "flannel-cfg", mountPath: "/etc/kube-flannel/" },
                    { name: "xtables-lock", mountPath: "/run/xtables.lock" },
                  ],
                },
              ],
              volumes: [
                { name: "run", hostPath: { path: "/run/flannel" } },
                // where containerd looks for CNI plugins, beside bridge, portmap, host-local
                { name: "cni-plugin", hostPath: { path: cniBinDir(cluster) } },
                { name: "cni", hostPath: { path: CNI_CONF_DIR } },
                { name: "flannel-cfg", configMap: { name: "kube-flannel-cfg" } },
                { name: "xtables-lock", hostPath: { path: "/run/xtables.lock", type: "FileOrCreate" } },
              ],
            },
          },
        },
      }),
    ],
    rollouts: [{ kind: "DaemonSet", namespace: ns, name: "kube-flannel-ds" }],
  };
}

function corefile(cluster: Cluster): string {
  return `.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes ${cluster.kubernetes.clusterDomain} in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    forward . /etc/resolv.conf {
       max_concurrent 1000
    }
    cache 30
    loop
    reload
    loadbalance
}
`;
}

function coredns(cluster: Cluster): Addon {
  const ns = "kube-system";
  const app = { "k8s-app": "kube-dns" };
  return {
    name: "coredns",
    objects: [
      new ServiceAccount({ metadata: { name: "coredns", namespace: ns, labels: labels() } }),
      new ClusterRole({
        metadata: { name: "system:coredns", labels: labels() },
        rules: [
          {
            apiGroups: [""],
            resources: ["endpoints", "services", "pods", "namespaces"],
            verbs: ["list", "watch"],
          },
          { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
        ],
      }),
      new ClusterRoleBinding({
        metadata: { name: "system:coredns", labels: labels() },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "system:coredns" },
        subjects: [{ kind: "ServiceAccount", name: "coredns", namespace: ns }],
      }),
      new ConfigMap({
        metadata: { name: "coredns", namespace: ns, labels: labels() },
        data: { Corefile: corefile(cluster) },
      }),
      new Deployment({
        metadata: { name: "coredns", namespace: ns, labels: labels(app) },
        spec: {
          replicas: 2,
          selector: { matchLabels: app },
          strategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
          template: {
            metadata: { labels: app },
            spec: {
              priorityClassName: "system-cluster-critical",
              serviceAccountName: "coredns",
              dnsPolicy: "Default",
              tolerations: [
                { key: "CriticalAddonsOnly", operator: "Exists" },
                { key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" },
              ],
              // never two on one host: a host's loss takes at most one
              affinity: {
                podAntiAffinity: {
                  requiredDuringSchedulingIgnoredDuringExecution: [
                    { labelSelector: { matchLabels: app }, topologyKey: "kubernetes.io/hostname" },
                  ],
                },
              },
              containers: [
                {
                  name: "coredns",
                  image: ADDON_IMAGES.coredns,
                  args: ["-conf", "/etc/coredns/Corefile"],
                  resources: { limits: { memory: "170Mi" }, requests: { cpu: "100m", memory: "70Mi" } },
                  ports: [
                    { name: "dns", containerPort: 53, protocol: "UDP" },
                    { name: "dns-tcp", containerPort: 53, protocol: "TCP" },
                    { name: "metrics", containerPort: 9153, protocol: "TCP" },
                  ],
                  securityContext: {
                    allowPrivilegeEscalation: false,
                    capabilities: { add: ["NET_BIND_SERVICE"], drop: ["ALL"] },
                    readOnlyRootFilesystem: true,
                  },
                  livenessProbe: {
                    httpGet: { path: "/health", port: 8080, scheme: "HTTP" },
                    initialDelaySeconds: 60,
                    timeoutSeconds: 5,
                    failureThreshold: 5,
                  },
                  readinessProbe: { httpGet: { path: "/ready", port: 8181, scheme: "HTTP" } },
                  volumeMounts: [{ name: "config-volume", mountPath: "/etc/coredns", readOnly: true }],
                },
              ],
              volumes: [
                {
                  name: "config-volume",
                  configMap: { name: "coredns", items: [{ key: "Corefile", path: "Corefile" }] },
                },
              ],
            },
          },
        },
      }),
      new PodDisruptionBudget({
        metadata: { name: "coredns", namespace: ns, labels: labels(app) },
        spec: { minAvailable: 1, selector: { matchLabels: app } },
      }),
      new Service({
        metadata: {
          name: "kube-dns",
          namespace: ns,
          labels: labels({ ...app, "kubernetes.io/name": "CoreDNS" }),
          annotations: { "prometheus.io/port": "9153", "prometheus.io/scrape": "true" },
        },
        spec: {
          selector: app,
          clusterIP: clusterDnsIp(cluster),
          ports: [
            { name: "dns", port: 53, protocol: "UDP" },
            { name: "dns-tcp", port: 53, protocol: "TCP" },
            { name: "metrics", port: 9153, protocol: "TCP" },
          ],
        },
      }),
    ],
    rollouts: [{ kind: "Deployment", namespace: ns, name: "coredns" }],
  };
}

/** Every add-on of `cluster`, in the order they are applied, each object validated against the OpenAPI schema. */
export function addons(cluster: Cluster): Addon[] {
  const all = [rbac(), flannel(cluster), coredns(cluster)];
  if (cluster.ingress && new HostList(cluster.hosts).edges().length > 0) all.push(traefik(cluster));
  for (const addon of all) for (const o of addon.objects) validateObject(o);
  return all;
}

/** Validates `o` against its OpenAPI schema; a failure names the object and the field. */
export function validateObject(o: AddonObject): void {
  try {
    o.validate();
  } catch (err) {
    throw new Error(
      `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name}: ${(err as Error).message}`,
    );
  }
}
