/**
 * Which certificates, keys and kubeconfigs the cluster needs and where each
 * lives under the state directory's `pki/`. The layout is kubeadm's, so
 * operators recognise every file: cluster-wide CAs at the top, and under
 * `hosts/<host>/` exactly what that host gets in /etc/kubernetes/.
 */
import { HostPki, type PemPair } from "../core/host-paths.js";
import { cidrAddress, httpsUrl, parseCidr } from "../core/ip.js";
import type { Cluster } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import { isVipCandidate } from "../spec/vips.js";
import { type AltNames, altNames, type LeafRequest } from "./certificate.js";

export type CaId = "ca" | "etcd-ca" | "front-proxy-ca";

/** The three CAs: cluster, etcd (separate, per CIS 2.7) and front-proxy. */
export const CAS: Readonly<
  Record<CaId, { readonly cn: string; readonly cert: string; readonly key: string }>
> = {
  ca: { cn: "kubernetes", cert: "ca.crt", key: "ca.key" },
  "etcd-ca": { cn: "etcd-ca", cert: "etcd/ca.crt", key: "etcd/ca.key" },
  "front-proxy-ca": { cn: "front-proxy-ca", cert: "front-proxy-ca.crt", key: "front-proxy-ca.key" },
};

/** The service-account signing key pair. */
export const SA_KEY = "sa.key";
export const SA_PUB = "sa.pub";
/** The apiserver's encryption of Secrets at rest: its key (pki/keys.ts generateEncryptionConfig). */
export const ENCRYPTION_CONFIG = "encryption-config.yaml";
/** The operator's kubeconfig, cluster-admin. */
export const ADMIN_CONF = "admin.conf";
/** Keys, and kubeconfigs (they embed a client key), are 0600 like any key (CIS 1.1.x); certificates 0644. */
export const KEY_MODE = 0o600;
export const CERT_MODE = 0o644;

/** A leaf written as a certificate and key pair. */
export interface PemTarget {
  readonly kind: "pem";
  readonly cert: string;
  readonly key: string;
}

/** A leaf embedded in a kubeconfig. */
export interface KubeconfigTarget {
  readonly kind: "kubeconfig";
  readonly file: string;
  readonly server: string;
  readonly user: string;
  readonly mode: number;
}

/** One leaf certificate kubeha keeps. */
export interface Leaf {
  /** Stable name in reports: `cp1/apiserver`. */
  readonly id: string;
  readonly host?: string;
  readonly signer: CaId;
  readonly request: LeafRequest;
  readonly target: PemTarget | KubeconfigTarget;
}

/** A cluster-wide file copied into a host's directory. */
export interface Copy {
  readonly host: string;
  readonly from: string;
  readonly to: string;
  readonly mode: number;
}

/** Everything the PKI must contain for a cluster. */
export interface Inventory {
  readonly leaves: readonly Leaf[];
  readonly copies: readonly Copy[];
}

/** The directory of `host` under pki/: it holds what the host gets under /etc/kubernetes/, by the same names. */
export const hostDir = (host: string) => `hosts/${host}`;

/** The URL clients outside the cluster use for the API. */
export function apiEndpointUrl(cluster: Cluster): string {
  const ep = cluster.controlPlane.endpoint;
  return httpsUrl(ep.mode === "vip" ? ep.vip : ep.address, ep.port);
}

/** The names the apiserver certificate must carry. */
export function apiserverNames(cluster: Cluster): AltNames {
  const ep = cluster.controlPlane.endpoint;
  const service = parseCidr(cluster.network.serviceCidr);
  const hosts = new HostList(cluster.hosts);
  return altNames([
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
    "localhost",
    ...hosts.controlplanes().map((h) => h.name),
    ...ep.dnsNames,
    ep.mode === "vip" ? ep.vip : ep.address,
    ...hosts.controlplanes().map((h) => h.address),
    "127.0.0.1",
    ...(service ? [cidrAddress(service, 1)] : []),
  ]);
}

const client = (cn: string, o: string[] = []): LeafRequest => ({
  subject: { cn, o },
  names: { dns: [], ip: [] },
  usages: ["client"],
});

/** Builds the inventory of `cluster`. */
export function inventoryOf(cluster: Cluster): Inventory {
  const leaves: Leaf[] = [];
  const copies: Copy[] = [];
  const nodeLocal = httpsUrl("127.0.0.1", cluster.controlPlane.nodeLocalProxyPort);

  leaves.push({
    id: "admin",
    signer: "ca",
    request: client("kubernetes-admin", ["system:masters"]),
    target: {
      kind: "kubeconfig",
      file: ADMIN_CONF,
      server: apiEndpointUrl(cluster),
      user: "kubernetes-admin",
      mode: KEY_MODE,
    },
  });

  for (const host of cluster.hosts) {
    const dir = hostDir(host.name);
    const add = (id: string, signer: CaId, request: LeafRequest, files: PemPair) =>
      leaves.push({
        id: `${host.name}/${id}`,
        host: host.name,
        signer,
        request,
        target: { kind: "pem", cert: `${dir}/${files.cert}`, key: `${dir}/${files.key}` },
      });
    const kubeconfig = (
      id: "kubelet" | "kube-proxy" | "controller-manager" | "scheduler",
      request: LeafRequest,
      server: string,
    ) =>
      leaves.push({
        id: `${host.name}/${id}`,
        host: host.name,
        signer: "ca",
        request,
        target: {
          kind: "kubeconfig",
          file: `${dir}/${HostPki.kubeconfig(id)}`,
          server,
          user: request.subject.cn,
          mode: KEY_MODE,
        },
      });
    const copy = (from: string, to: string, mode = CERT_MODE) =>
      copies.push({ host: host.name, from, to: `${dir}/${to}`, mode });
    const has = (role: string) => host.roles.some((r) => r === role);
    const local = httpsUrl(host.address, cluster.controlPlane.apiserverPort);
    const nodeApi = has("controlplane") ? local : nodeLocal;
    const memberNames = altNames([host.name, "localhost", host.address, "127.0.0.1"]);

    copy(CAS.ca.cert, HostPki.ca.cert);
    kubeconfig(
      "kubelet",
      {
        subject: { cn: `system:node:${host.name}`, o: ["system:nodes"] },
        names: { dns: [], ip: [] },
        usages: ["client"],
      },
      nodeApi,
    );
    kubeconfig("kube-proxy", client("system:kube-proxy"), nodeApi);
    // the kubelet's serving certificate, from the cluster CA so that the apiserver can verify it
    add(
      "kubelet-server",
      "ca",
      {
        subject: { cn: `system:node:${host.name}`, o: ["system:nodes"] },
        names: altNames([host.name, host.address]),
        usages: ["server"],
      },
      HostPki.kubeletServer,
    );

    if (has("controlplane")) {
      copy(CAS.ca.key, HostPki.ca.key, KEY_MODE); // controller-manager signs kubelet CSRs with it
      copy(CAS["front-proxy-ca"].cert, HostPki.frontProxyCa.cert);
      copy(CAS["etcd-ca"].cert, HostPki.etcdCa.cert);
      copy(SA_KEY, HostPki.saKey, KEY_MODE);
      copy(SA_PUB, HostPki.saPub);
      copy(ENCRYPTION_CONFIG, HostPki.encryptionConfig, KEY_MODE);
      add(
        "apiserver",
        "ca",
        { subject: { cn: "kube-apiserver", o: [] }, names: apiserverNames(cluster), usages: ["server"] },
        HostPki.apiserver,
      );
      add(
        "apiserver-etcd-client",
        "etcd-ca",
        client("kube-apiserver-etcd-client"),
        HostPki.apiserverEtcdClient,
      );
      add(
        "apiserver-kubelet-client",
        "ca",
        client("kube-apiserver-kubelet-client", ["system:masters"]),
        HostPki.apiserverKubeletClient,
      );
      add("front-proxy-client", "front-proxy-ca", client("front-proxy-client"), HostPki.frontProxyClient);
      kubeconfig("controller-manager", client("system:kube-controller-manager"), local);
      kubeconfig("scheduler", client("system:kube-scheduler"), local);
      const serving = (cn: string): LeafRequest => ({
        subject: { cn, o: [] },
        names: altNames([host.name, "localhost", "127.0.0.1"]),
        usages: ["server"],
      });
      add(
        "controller-manager-server",
        "ca",
        serving("kube-controller-manager"),
        HostPki.controllerManagerServer,
      );
      add("scheduler-server", "ca", serving("kube-scheduler"), HostPki.schedulerServer);
    }
    if (has("etcd")) {
      if (!has("controlplane")) copy(CAS["etcd-ca"].cert, HostPki.etcdCa.cert);
      const both = ["server", "client"] as const;
      add(
        "etcd-server",
        "etcd-ca",
        { subject: { cn: host.name, o: [] }, names: memberNames, usages: both },
        HostPki.etcdServer,
      );
      add(
        "etcd-peer",
        "etcd-ca",
        { subject: { cn: host.name, o: [] }, names: memberNames, usages: both },
        HostPki.etcdPeer,
      );
      add(
        "etcd-healthcheck-client",
        "etcd-ca",
        client("kube-etcd-healthcheck-client"),
        HostPki.etcdHealthcheckClient,
      );
    }
    if (isVipCandidate(cluster, host)) {
      if (!has("controlplane") && !has("etcd")) copy(CAS["etcd-ca"].cert, HostPki.etcdCa.cert);
      add("kubeha-agent-etcd-client", "etcd-ca", client("kubeha-agent"), HostPki.agentEtcdClient);
    }
  }
  return { leaves, copies };
}
