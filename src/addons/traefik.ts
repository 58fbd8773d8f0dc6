/**
 * The ingress controller: Traefik v3 as a DaemonSet on the edge hosts only,
 * on the host's own network, reading Ingress objects (the kubernetesIngress
 * provider; no CRDs), in the namespace `kube-ingress`.
 *
 * - Host network: Traefik listens on every address of its edge, the ingress
 *   VIPs the kubeha agent adds and removes included, so a VIP is served the
 *   moment it lands, with nothing between client and proxy (the client's
 *   address arrives as it is, no kube-proxy hop, no SNAT).
 * - No Service, no externalIPs: nothing publishes the controller through
 *   kube-proxy. A LoadBalancer Service needs a cloud, and `externalIPs`
 *   lets whoever may write a Service capture traffic to any address
 *   (CVE-2020-8554); the VIPs are the agent's, on the edges themselves.
 *   For the same reason Traefik writes no Ingress status (no
 *   `ingressEndpoint`), and its role grants no write at all.
 * - The ping: on the `traefik` entrypoint, 127.0.0.1:INGRESS_PING_PORT only,
 *   where the agent on the same host checks it (render/ingress.ts) and the
 *   kubelet probes it (a host-network pod's loopback is the host's).
 * - Stopping: on SIGTERM the ping answers 503 at once
 *   (`ping.terminatingStatusCode`) while every entrypoint keeps accepting
 *   for INGRESS_ACCEPT_GRACE_S (`requestAcceptGraceTimeout`): the agent sees
 *   the ping fail and moves this edge's VIPs to the others meanwhile. Then
 *   requests in flight get GRACE_TIMEOUT_S (`graceTimeOut`) to finish, and
 *   the pod's termination grace covers both with room to spare. A rollout
 *   replaces one edge at a time, the next only after this one has been
 *   ready for as long as the agent takes to count it ready (INGRESS_CHECK).
 * - Privileges: root without any capability but NET_BIND_SERVICE (the
 *   image sets no file capabilities, so a non-root user could not bind the
 *   ports below 1024), read-only root file system, no privilege escalation.
 *   Host network and host ports need the namespace's pod-security level to
 *   be `privileged`.
 */
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { IngressClass } from "kubernetes-models/networking.k8s.io/v1/IngressClass";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import type { IToleration } from "kubernetes-models/v1/Toleration";
import { INGRESS_PING_PORT, ingressEntrypoints } from "../render/ingress.js";
import { CONTROL_PLANE_TAINT, EDGE_TAINT, ROLE_LABEL_PREFIX } from "../render/node.js";
import { INGRESS_ACCEPT_GRACE_S, INGRESS_CHECK } from "../render/timing.js";
import type { Cluster } from "../spec/defaults.js";
import { ADDON_IMAGES, type Addon, labels } from "./common.js";

const INGRESS_NAMESPACE = "kube-ingress";
/** The IngressClass Traefik serves, the cluster's default. */
const INGRESS_CLASS = "traefik";
/** The controller name Traefik looks for in IngressClasses. */
const TRAEFIK_CONTROLLER = "traefik.io/ingress-controller";
/** Traefik's entrypoint for the ping (its internal one: no Ingress is routed there). */
const PING_ENTRYPOINT = "traefik";
/** How long requests in flight may take to finish once an entrypoint stops accepting. */
const GRACE_TIMEOUT_S = 10;
/** How long the pod may take to stop: accept grace, in-flight grace, and Traefik's own 10 s to close. */
const TERMINATION_GRACE_S = INGRESS_ACCEPT_GRACE_S + GRACE_TIMEOUT_S + 15;
/** The node label of edge hosts (render/node.ts nodeLabels). */
const EDGE_NODE_SELECTOR = { [`${ROLE_LABEL_PREFIX}edge`]: "true" };

const NAME = "traefik";
const app = { "app.kubernetes.io/name": NAME, "app.kubernetes.io/component": "ingress-controller" };

const tolerate = (taint: { key: string; effect: string }): IToleration => ({
  key: taint.key,
  operator: "Exists",
  effect: taint.effect as IToleration["effect"],
});

/** Traefik's command line: static configuration only, every flag checked against the v3 reference. */
function traefikArgs(cluster: Cluster): string[] {
  const lifeCycle = (ep: string) => [
    `--entryPoints.${ep}.transport.lifeCycle.requestAcceptGraceTimeout=${INGRESS_ACCEPT_GRACE_S}s`,
    `--entryPoints.${ep}.transport.lifeCycle.graceTimeOut=${GRACE_TIMEOUT_S}s`,
  ];
  return [
    "--global.checkNewVersion=false",
    "--global.sendAnonymousUsage=false",
    ...ingressEntrypoints(cluster).flatMap((e) => [
      `--entryPoints.${e.name}.address=:${e.port}`,
      ...(e.tls ? [`--entryPoints.${e.name}.http.tls=true`] : []),
      ...lifeCycle(e.name),
    ]),
    `--entryPoints.${PING_ENTRYPOINT}.address=127.0.0.1:${INGRESS_PING_PORT}`,
    // the ping keeps answering (503) while the ingress entrypoints still accept
    ...lifeCycle(PING_ENTRYPOINT),
    "--ping=true",
    `--ping.entryPoint=${PING_ENTRYPOINT}`,
    "--ping.terminatingStatusCode=503",
    "--providers.kubernetesIngress=true",
    `--providers.kubernetesIngress.ingressClass=${INGRESS_CLASS}`,
    "--log.level=INFO",
    "--accesslog=false",
  ];
}

/** The ingress controller add-on of `cluster` (which has an ingress section). */
export function traefik(cluster: Cluster): Addon {
  const ns = INGRESS_NAMESPACE;
  const ping = { path: "/ping", port: INGRESS_PING_PORT, host: "127.0.0.1", scheme: "HTTP" as const };
  return {
    name: "ingress-controller",
    objects: [
      new Namespace({
        metadata: { name: ns, labels: labels({ "pod-security.kubernetes.io/enforce": "privileged" }) },
      }),
      new ServiceAccount({ metadata: { name: NAME, namespace: ns, labels: labels(app) } }),
      // what the kubernetesIngress provider watches (informers: list, watch), and nothing it writes:
      // with no ingressEndpoint it never updates Ingress status
      new ClusterRole({
        metadata: { name: "kubeha:traefik", labels: labels(app) },
        rules: [
          { apiGroups: [""], resources: ["services", "secrets", "nodes"], verbs: ["list", "watch"] },
          { apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["list", "watch"] },
          {
            apiGroups: ["networking.k8s.io"],
            resources: ["ingresses", "ingressclasses"],
            verbs: ["list", "watch"],
          },
        ],
      }),
      new ClusterRoleBinding({
        metadata: { name: "kubeha:traefik", labels: labels(app) },
        roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "kubeha:traefik" },
        subjects: [{ kind: "ServiceAccount", name: NAME, namespace: ns }],
      }),
      new IngressClass({
        metadata: {
          name: INGRESS_CLASS,
          labels: labels(app),
          annotations: { "ingressclass.kubernetes.io/is-default-class": "true" },
        },
        spec: { controller: TRAEFIK_CONTROLLER },
      }),
      new DaemonSet({
        metadata: { name: NAME, namespace: ns, labels: labels(app) },
        spec: {
          selector: { matchLabels: app },
          // one edge at a time; the next once the agent has had time to count this one ready
          updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } },
          minReadySeconds: Math.ceil(
            (INGRESS_CHECK.rise * INGRESS_CHECK.intervalMs + INGRESS_CHECK.timeoutMs) / 1000,
          ),
          template: {
            metadata: { labels: app },
            spec: {
              hostNetwork: true,
              dnsPolicy: "ClusterFirstWithHostNet",
              nodeSelector: EDGE_NODE_SELECTOR,
              // dedicated edges carry the edge taint; an edge may also be a controlplane host
              tolerations: [tolerate(EDGE_TAINT), tolerate(CONTROL_PLANE_TAINT)],
              priorityClassName: "system-cluster-critical",
              serviceAccountName: NAME,
              terminationGracePeriodSeconds: TERMINATION_GRACE_S,
              containers: [
                {
                  name: NAME,
                  image: ADDON_IMAGES.traefik,
                  args: traefikArgs(cluster),
                  ports: [
                    ...ingressEntrypoints(cluster).map((e) => ({
                      name: e.name,
                      containerPort: e.port,
                      hostPort: e.port,
                      protocol: "TCP" as const,
                    })),
                    {
                      name: "ping",
                      containerPort: INGRESS_PING_PORT,
                      hostPort: INGRESS_PING_PORT,
                      hostIP: "127.0.0.1",
                      protocol: "TCP" as const,
                    },
                  ],
                  readinessProbe: {
                    httpGet: ping,
                    periodSeconds: 1,
                    timeoutSeconds: Math.ceil(INGRESS_CHECK.timeoutMs / 1000),
                    failureThreshold: INGRESS_CHECK.fall,
                  },
                  livenessProbe: {
                    httpGet: ping,
                    initialDelaySeconds: 5,
                    periodSeconds: 10,
                    timeoutSeconds: 2,
                    failureThreshold: 3,
                  },
                  resources: { requests: { cpu: "100m", memory: "50Mi" } },
                  securityContext: {
                    runAsUser: 0,
                    runAsGroup: 0,
                    runAsNonRoot: false,
                    allowPrivilegeEscalation: false,
                    capabilities: { drop: ["ALL"], add: ["NET_BIND_SERVICE"] },
                    readOnlyRootFilesystem: true,
                    seccompProfile: { type: "RuntimeDefault" },
                  },
                  volumeMounts: [
                    { name: "tmp", mountPath: "/tmp" },
                    { name: "data", mountPath: "/data" },
                  ],
                },
              ],
              volumes: [
                { name: "tmp", emptyDir: {} },
                { name: "data", emptyDir: {} },
              ],
            },
          },
        },
      }),
    ],
    rollouts: [{ kind: "DaemonSet", namespace: ns, name: NAME }],
  };
}
