/**
 * Defaults, applied once after validation so that every later stage sees a
 * complete, readonly model and never has to ask "was this set?".
 */
import { InternalError } from "../core/errors.js";
import { parseIp } from "../core/ip.js";
import type { ClusterSpecInput, HostInput, Role, SshInput } from "./schema.js";

export const DEFAULTS = {
  ssh: { user: "root", port: 22, keyPath: "~/.ssh/id_ed25519" },
  podCidr: "10.42.0.0/16",
  serviceCidr: "10.43.0.0/16",
  apiPort: 6443,
  apiserverPort: 6443,
  nodeLocalProxyPort: 6443,
  etcd: { heartbeatMs: 100, electionMs: 1000 },
  /** RKE's: every 12 hours, six kept. */
  etcdSnapshots: { every: "12h", keep: 6 },
  vipLeaseTtlSeconds: 2,
  ingressPorts: [80, 443],
  kubernetesVersion: "v1.34.2",
  pki: { keyAlgorithm: "ecdsa-p256", caValidityDays: 3650, leafValidityDays: 365, renewBeforeDays: 30 },
} as const;

/** Key types for certificates. */
export type KeyAlgorithm = "ecdsa-p256" | "rsa-2048";

/** SSH settings with every field known. */
export interface Ssh {
  readonly user: string;
  readonly port: number;
  readonly keyPath: string;
  readonly knownHostsPath?: string;
}

/** A host with defaults applied. */
export interface Host {
  /** Its position in spec.hosts, for messages. */
  readonly index: number;
  readonly name: string;
  /** As the spec says: an IP address, or a DNS name. */
  readonly address: string;
  /** The IP address: `address` itself, or what `kubeha up` resolved the name to; undefined until then. */
  readonly ip?: string;
  readonly roles: readonly Role[];
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly { readonly key: string; readonly value?: string; readonly effect: string }[];
  readonly ssh: Ssh;
}

export type Endpoint =
  | {
      readonly mode: "vip";
      readonly vip: string;
      readonly port: number;
      readonly dnsNames: readonly string[];
      readonly leaseTtlSeconds: number;
    }
  | {
      readonly mode: "external";
      readonly address: string;
      readonly port: number;
      readonly dnsNames: readonly string[];
    };

/** Where the Kubernetes binaries come from: the release server (or a mirror), a directory or tarball, or the lab's stand-ins. */
export type Binaries =
  | { readonly source: "download"; readonly mirror?: string; readonly arch: Arch }
  | { readonly source: "dir"; readonly path: string; readonly arch: Arch }
  | { readonly source: "standin" };
export type Arch = "amd64" | "arm64";

/** A control-plane component's flags over kubeha's. */
export interface ComponentSettings {
  readonly extraArgs: Readonly<Record<string, string>>;
}

/** Where etcd comes from: the distribution's package, a local directory or tarball, or a checked download. */
export type EtcdBinaries =
  | { readonly source: "package" }
  | { readonly source: "dir"; readonly path: string }
  | {
      readonly source: "download";
      /** An upstream release (its URL and published checksum follow), or ... */
      readonly version?: string;
      readonly mirror?: string;
      /** ... a tarball's URL with its SHA-256 (spec/rules.ts: one or the other). */
      readonly url?: string;
      readonly sha256?: string;
      readonly arch: Arch;
    };

/** The etcd release real clusters get unless the spec says otherwise: the 3.6 line Kubernetes v1.34 is tested with. */
export const DEFAULT_ETCD_VERSION = "v3.6.5";

/** The container runtime's upstream releases when they are downloaded. */
export const DEFAULT_RUNTIME = { containerd: "v1.7.28", runc: "v1.3.0", cni: "v1.7.1" } as const;

/** Where containerd, runc and the CNI plugins come from. */
export type RuntimeSource =
  | { readonly source: "package" }
  | ({ readonly source: "download"; readonly mirror?: string } & RuntimeReleases)
  | ({ readonly source: "dir"; readonly path: string } & RuntimeReleases);

export interface RuntimeReleases {
  readonly containerd: string;
  readonly runc: string;
  readonly cni: string;
  readonly arch: string;
}

/** The complete cluster model every later stage works from. */
export interface Cluster {
  readonly name: string;
  readonly network: {
    /** Required when the cluster has a VIP (spec/rules.ts). */
    readonly hostCidr?: string;
    readonly podCidr: string;
    readonly serviceCidr: string;
  };
  readonly hosts: readonly Host[];
  readonly controlPlane: {
    readonly endpoint: Endpoint;
    readonly apiserverPort: number;
    readonly nodeLocalProxyPort: number;
  };
  readonly etcd: {
    readonly heartbeatMs: number;
    readonly electionMs: number;
    readonly binaries: EtcdBinaries;
    /** Scheduled snapshots; absent when turned off. */
    readonly snapshots?: { readonly everySeconds: number; readonly keep: number };
  };
  /** Absent when the spec has no ingress section. */
  readonly ingress?: {
    /** The ingress VIPs, in spec order (`vip` is a list of one); may be empty. */
    readonly vips: readonly string[];
    /** Where the spec set them, for messages. */
    readonly vipField: "vip" | "vips";
    readonly ports: readonly number[];
    readonly leaseTtlSeconds: number;
    readonly dedicatedEdges: boolean;
    /** Opt-in rebalance after this quiet period; absent: no VIP moves back. */
    readonly rebalanceQuietSeconds?: number;
  };
  readonly kubernetes: {
    readonly version: string;
    readonly binaries: Binaries;
    readonly apiserver: ComponentSettings;
    readonly controllerManager: ComponentSettings;
    readonly scheduler: ComponentSettings;
    readonly clusterDomain: string;
    readonly kubelet: ComponentSettings & { readonly swap: "fail" | "NoSwap" | "LimitedSwap" };
    readonly kubeProxy: ComponentSettings & { readonly mode: "iptables" | "nftables" | "ipvs" };
    readonly containerd: RuntimeSource;
  };
  /** What `kubeha drill` holds each trial to, where the spec says (absent: derived, actions/drill.ts). */
  readonly drill: { readonly maxOutageMs?: number; readonly nodeLocalProxyFailures?: number };
  readonly pki: {
    readonly keyAlgorithm: KeyAlgorithm;
    readonly caValidityDays: number;
    readonly leafValidityDays: number;
    readonly renewBeforeDays: number;
  };
}

/**
 * The IP address `host` binds to: its address, or what `kubeha up` resolved
 * its DNS name to. Renderers of listening sockets need it; reaching the host
 * is by its address as written (names included), and certificates carry that.
 */
export function hostIp(host: Host): string {
  if (!host.ip)
    throw new InternalError(
      `host ${host.name} (${host.address}) was not resolved before its files were rendered`,
    );
  return host.ip;
}

function hostWithDefaults(host: HostInput, index: number, ssh: SshInput | undefined): Host {
  return {
    index,
    name: host.name,
    address: host.address,
    ...(parseIp(host.address) && { ip: host.address }),
    roles: [...new Set(host.roles)],
    labels: host.labels ?? {},
    taints: host.taints ?? [],
    ssh: { ...DEFAULTS.ssh, ...ssh, ...host.ssh },
  };
}

/**
 * Applies every default to a validated spec. `hostIndex` gives each host's
 * position in the spec when some hosts were left out (spec/load.ts keeps
 * checking what is well-formed).
 */
export function applyDefaults(input: ClusterSpecInput, hostIndex?: readonly number[]): Cluster {
  const s = input.spec;
  const ep = s.controlPlane.endpoint;
  const endpoint: Endpoint =
    ep.mode === "vip"
      ? {
          mode: "vip",
          vip: ep.vip,
          port: ep.port ?? DEFAULTS.apiPort,
          dnsNames: ep.dnsNames ?? [],
          leaseTtlSeconds: ep.leaseTtlSeconds ?? DEFAULTS.vipLeaseTtlSeconds,
        }
      : {
          mode: "external",
          address: ep.address,
          port: ep.port ?? DEFAULTS.apiPort,
          dnsNames: ep.dnsNames ?? [],
        };
  return {
    name: input.metadata.name,
    network: {
      ...(s.network?.hostCidr && { hostCidr: s.network.hostCidr }),
      podCidr: s.network?.podCidr ?? DEFAULTS.podCidr,
      serviceCidr: s.network?.serviceCidr ?? DEFAULTS.serviceCidr,
    },
    hosts: s.hosts.map((h, i) => hostWithDefaults(h, hostIndex?.[i] ?? i, s.ssh)),
    controlPlane: {
      endpoint,
      apiserverPort: s.controlPlane.apiserverPort ?? DEFAULTS.apiserverPort,
      nodeLocalProxyPort: s.controlPlane.nodeLocalProxy?.port ?? DEFAULTS.nodeLocalProxyPort,
    },
    etcd: {
      heartbeatMs: s.etcd?.heartbeatMs ?? DEFAULTS.etcd.heartbeatMs,
      electionMs: s.etcd?.electionMs ?? DEFAULTS.etcd.electionMs,
      binaries: etcdBinariesWithDefaults(s.etcd?.binaries),
      ...(s.etcd?.snapshots?.enabled !== false && {
        snapshots: {
          everySeconds: durationSeconds(s.etcd?.snapshots?.every ?? DEFAULTS.etcdSnapshots.every),
          keep: s.etcd?.snapshots?.keep ?? DEFAULTS.etcdSnapshots.keep,
        },
      }),
    },
    ...(s.ingress && {
      ingress: {
        vips: s.ingress.vips ?? (s.ingress.vip ? [s.ingress.vip] : []),
        vipField: s.ingress.vip ? "vip" : "vips",
        ports: s.ingress.ports ?? [...DEFAULTS.ingressPorts],
        leaseTtlSeconds: s.ingress.leaseTtlSeconds ?? DEFAULTS.vipLeaseTtlSeconds,
        dedicatedEdges: s.ingress.dedicatedEdges ?? false,
        ...(s.ingress.rebalance && { rebalanceQuietSeconds: s.ingress.rebalance.quietSeconds }),
      },
    }),
    kubernetes: {
      version: s.kubernetes?.version ?? DEFAULTS.kubernetesVersion,
      binaries: binariesWithDefaults(s.kubernetes?.binaries),
      apiserver: { extraArgs: s.kubernetes?.apiserver?.extraArgs ?? {} },
      controllerManager: { extraArgs: s.kubernetes?.controllerManager?.extraArgs ?? {} },
      scheduler: { extraArgs: s.kubernetes?.scheduler?.extraArgs ?? {} },
      clusterDomain: s.kubernetes?.clusterDomain ?? "cluster.local",
      kubelet: {
        extraArgs: s.kubernetes?.kubelet?.extraArgs ?? {},
        swap: s.kubernetes?.kubelet?.swap ?? "fail",
      },
      kubeProxy: {
        extraArgs: s.kubernetes?.kubeProxy?.extraArgs ?? {},
        mode: s.kubernetes?.kubeProxy?.mode ?? "iptables",
      },
      containerd: runtimeWithDefaults(s.kubernetes?.containerd),
    },
    drill: { ...s.drill?.budgets },
    pki: { ...DEFAULTS.pki, ...s.pki },
  };
}

function binariesWithDefaults(b: NonNullable<ClusterSpecInput["spec"]["kubernetes"]>["binaries"]): Binaries {
  if (!b) return { source: "download", arch: "amd64" };
  return b.source === "standin" ? b : { ...b, arch: b.arch ?? "amd64" };
}

function runtimeWithDefaults(
  r: NonNullable<ClusterSpecInput["spec"]["kubernetes"]>["containerd"],
): RuntimeSource {
  if (!r || r.source === "package") return { source: "package" };
  return {
    ...r,
    containerd: r.containerd ?? DEFAULT_RUNTIME.containerd,
    runc: r.runc ?? DEFAULT_RUNTIME.runc,
    cni: r.cni ?? DEFAULT_RUNTIME.cni,
    arch: r.arch ?? "amd64",
  };
}

/** "12h" to seconds (the schema checked the form). */
function durationSeconds(span: string): number {
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[span.slice(-1)] ?? 1;
  return Number(span.slice(0, -1)) * unit;
}

function etcdBinariesWithDefaults(
  b: NonNullable<ClusterSpecInput["spec"]["etcd"]>["binaries"],
): EtcdBinaries {
  if (!b) return { source: "download", version: DEFAULT_ETCD_VERSION, arch: "amd64" };
  return b.source === "download" ? { ...b, arch: b.arch ?? "amd64" } : b;
}
