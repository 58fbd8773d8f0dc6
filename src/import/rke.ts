/**
 * RKE1 cluster.yml -> kubeha spec. RKE1 reached end of life in 2025; this is
 * its users' way in. What carries over: nodes (address, user, port, role,
 * labels, taints, hostname_override, ssh_key_path), ingress node_selector ->
 * `edge` role, authentication.sans -> the external endpoint and dnsNames,
 * service CIDRs, etcd timings, kubernetes_version. Everything else is listed as
 * a warning; nothing is dropped silently. Secrets (inline ssh_key, registry
 * passwords) are never copied into the output or the warnings.
 */

import { parse } from "yaml";
import { z } from "zod";
import { parseIp } from "../core/ip.js";
import { isSupported, SUPPORTED_MINORS } from "../kubernetes/flags.js";
import { dns1123Label, dns1123Subdomain, isDnsName } from "../spec/schema.js";

/** The result of an import: the spec as an object and what could not be carried over. */
export interface RkeImport {
  readonly spec: Record<string, unknown>;
  readonly warnings: readonly string[];
}

const RkeNode = z.looseObject({
  address: z.string(),
  internal_address: z.string().optional(),
  hostname_override: z.string().optional(),
  user: z.string().optional(),
  port: z.union([z.number(), z.string()]).optional(),
  role: z.array(z.string()).default([]),
  labels: z.record(z.string(), z.unknown()).optional(),
  taints: z
    .array(z.looseObject({ key: z.string(), value: z.unknown().optional(), effect: z.string() }))
    .optional(),
  ssh_key_path: z.string().optional(),
});

const RkeCluster = z.looseObject({
  nodes: z.array(RkeNode).min(1),
  cluster_name: z.string().optional(),
  ssh_key_path: z.string().optional(),
  kubernetes_version: z.string().optional(),
  authentication: z.looseObject({ sans: z.array(z.string()).optional() }).optional(),
  ingress: z
    .looseObject({
      provider: z.string().optional(),
      node_selector: z.record(z.string(), z.unknown()).optional(),
    })
    .optional(),
  services: z.record(z.string(), z.unknown()).optional(),
});

type RkeNode = z.infer<typeof RkeNode>;

/** Node keys that are carried over (others become warnings). */
const NODE_KEYS = new Set([
  "address",
  "internal_address",
  "hostname_override",
  "user",
  "port",
  "role",
  "labels",
  "taints",
  "ssh_key_path",
]);
const TOP_KEYS = new Set([
  "nodes",
  "cluster_name",
  "ssh_key_path",
  "kubernetes_version",
  "authentication",
  "ingress",
  "services",
]);
const SECRET_KEYS = new Set(["ssh_key", "ssh_cert", "password", "private_registries"]);

function hostName(node: RkeNode, index: number, warnings: string[]): string {
  const candidates = [node.hostname_override, parseIp(node.address) ? undefined : node.address.split(".")[0]];
  for (const c of candidates) {
    const lower = c?.toLowerCase();
    if (lower && dns1123Subdomain.test(lower)) return lower;
  }
  const name = `node${index + 1}`;
  warnings.push(
    `nodes[${index}]: no usable host name (hostname_override or a DNS address); named it ${name}`,
  );
  return name;
}

function hostAddress(node: RkeNode, index: number, warnings: string[]): string {
  const internal = node.internal_address;
  if (parseIp(node.address)) {
    if (internal && internal !== node.address) {
      warnings.push(
        `nodes[${index}]: internal_address ${internal} dropped: kubeha uses one address per host for SSH and cluster traffic (${node.address})`,
      );
    }
    return node.address;
  }
  if (internal && parseIp(internal)) {
    warnings.push(
      `nodes[${index}]: reached at internal_address ${internal} instead of ${node.address}: kubeha uses one address per host for SSH and cluster traffic`,
    );
    return internal;
  }
  // a DNS name: kubeha reaches the host by it too, and `kubeha up` resolves it once for its address checks
  if (isDnsName(node.address.toLowerCase())) return node.address.toLowerCase();
  warnings.push(
    `nodes[${index}]: address ${node.address} is neither an IP address nor a DNS name: put the host's address into spec.hosts[${index}].address`,
  );
  return node.address;
}

/** The smallest range of at most /24 that holds every IPv4 address (for network.hostCidr). */
function commonRange(addresses: readonly string[]): string | undefined {
  const ips = addresses.map(parseIp).filter((ip) => ip?.version === 4);
  if (ips.length === 0 || ips.length !== addresses.length) return undefined;
  let prefix = 24;
  const base = (v: bigint, p: number) => v & (((1n << 32n) - 1n) ^ ((1n << BigInt(32 - p)) - 1n));
  const first = ips[0]?.value ?? 0n;
  while (prefix > 8 && !ips.every((ip) => base(ip?.value ?? 0n, prefix) === base(first, prefix))) prefix--;
  const b = base(first, prefix);
  return `${[24n, 16n, 8n, 0n].map((s) => ((b >> s) & 255n).toString()).join(".")}/${prefix}`;
}

function matchesSelector(
  labels: Record<string, unknown> | undefined,
  selector: Record<string, unknown>,
): boolean {
  return Object.entries(selector).every(([k, v]) => labels !== undefined && String(labels[k]) === String(v));
}

function etcdTimings(
  services: Record<string, unknown> | undefined,
  warnings: string[],
): Record<string, number> {
  const etcd = (services?.etcd ?? {}) as Record<string, unknown>;
  const args = (etcd.extra_args ?? {}) as Record<string, unknown>;
  const out: Record<string, number> = {};
  if (args["heartbeat-interval"] !== undefined) out.heartbeatMs = Number(args["heartbeat-interval"]);
  if (args["election-timeout"] !== undefined) out.electionMs = Number(args["election-timeout"]);
  for (const key of Object.keys(etcd)) {
    if (key === "extra_args") continue;
    warnings.push(
      `services.etcd.${key} not carried over: kubeha takes etcd snapshots with \`kubeha etcd snapshot save\``,
    );
  }
  for (const key of Object.keys(args)) {
    if (key !== "heartbeat-interval" && key !== "election-timeout") {
      warnings.push(`services.etcd.extra_args.${key} not carried over: kubeha renders etcd's flags itself`);
    }
  }
  return out;
}

/** Converts the text of an RKE cluster.yml; throws a plain Error with a message when it is not one. */
export function importRke(text: string): RkeImport {
  const parsed = RkeCluster.safeParse(parse(text));
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new Error(`not an RKE cluster.yml: ${first?.path.join(".") || "(document)"}: ${first?.message}`);
  }
  const rke = parsed.data;
  const warnings: string[] = [];

  for (const key of Object.keys(rke)) {
    if (TOP_KEYS.has(key)) continue;
    const why = SECRET_KEYS.has(key)
      ? "it holds secrets; configure it separately"
      : "no kubeha equivalent yet";
    warnings.push(`${key} not carried over: ${why}`);
  }

  const selector = rke.ingress?.node_selector;
  const provider = rke.ingress?.provider ?? "nginx";
  const ingressOn = provider !== "none";
  if (ingressOn) {
    warnings.push(
      `ingress.provider ${provider}: kubeha runs Traefik on the edge hosts (ingress-nginx is retired); move your Ingress annotations over`,
    );
  }

  const hosts = rke.nodes.map((node, i) => {
    for (const key of Object.keys(node)) {
      if (NODE_KEYS.has(key)) continue;
      const why = SECRET_KEYS.has(key)
        ? "an inline secret: write it to a file and set ssh.keyPath"
        : "no kubeha equivalent";
      warnings.push(`nodes[${i}].${key} not carried over: ${why}`);
    }
    const roles: string[] = node.role.filter((r) => {
      const known = r === "controlplane" || r === "etcd" || r === "worker";
      if (!known) warnings.push(`nodes[${i}]: unknown RKE role ${r} dropped`);
      return known;
    });
    const isEdge =
      ingressOn && node.role.includes("worker") && (!selector || matchesSelector(node.labels, selector));
    if (isEdge) roles.push("edge");
    const ssh: Record<string, unknown> = {};
    if (node.user) ssh.user = node.user;
    if (node.port !== undefined && Number(node.port) !== 22) ssh.port = Number(node.port);
    if (node.ssh_key_path) ssh.keyPath = node.ssh_key_path;
    return {
      name: hostName(node, i, warnings),
      address: hostAddress(node, i, warnings),
      roles,
      ...(node.labels && {
        labels: Object.fromEntries(Object.entries(node.labels).map(([k, v]) => [k, String(v)])),
      }),
      ...(node.taints && {
        taints: node.taints.map((t) => ({
          key: t.key,
          ...(t.value !== undefined && { value: String(t.value) }),
          effect: t.effect,
        })),
      }),
      ...(Object.keys(ssh).length > 0 && { ssh }),
    };
  });

  // One user for every node becomes the cluster-wide default instead of a per-host setting.
  const users = new Set(rke.nodes.map((n) => n.user));
  const commonUser = users.size === 1 ? rke.nodes[0]?.user : undefined;
  if (commonUser) {
    for (const h of hosts) {
      if (h.ssh) delete h.ssh.user;
      if (h.ssh && Object.keys(h.ssh).length === 0) delete (h as { ssh?: unknown }).ssh;
    }
  }
  const clusterSsh = {
    ...(commonUser && { user: commonUser }),
    ...(rke.ssh_key_path && { keyPath: rke.ssh_key_path }),
  };

  const sans = rke.authentication?.sans ?? [];
  const dnsNames = sans.filter((s) => !parseIp(s) && dns1123Subdomain.test(s));
  for (const s of sans.slice(1).filter((s) => parseIp(s))) {
    warnings.push(
      `authentication.sans ${s}: extra IP SANs are not carried over; the apiserver certificate covers the endpoint and every controlplane address`,
    );
  }
  const firstSan = sans[0];
  let endpoint: Record<string, unknown>;
  if (firstSan) {
    endpoint = { mode: "external", address: firstSan, port: 6443, ...(dnsNames.length > 0 && { dnsNames }) };
    warnings.push(
      `controlPlane.endpoint: your load balancer ${firstSan} is kept (mode external); to let kubeha float the API address instead, set mode: vip with a free address inside hostCidr`,
    );
  } else {
    endpoint = { mode: "vip", vip: "CHANGE-ME", port: 6443 };
    warnings.push(
      "controlPlane.endpoint.vip: RKE had no API load balancer; set vip to a free address inside hostCidr",
    );
  }

  const services = rke.services ?? {};
  const kubeApi = (services["kube-api"] ?? {}) as Record<string, unknown>;
  const kubeController = (services["kube-controller"] ?? {}) as Record<string, unknown>;
  const used: Record<string, readonly string[]> = {
    etcd: [], // etcdTimings() reports its own keys
    "kube-api": ["service_cluster_ip_range"],
    "kube-controller": ["cluster_cidr", "service_cluster_ip_range"],
  };
  for (const [service, settings] of Object.entries(services)) {
    const keep = used[service];
    if (!keep) warnings.push(`services.${service} not carried over: kubeha renders its flags itself`);
    else if (service !== "etcd") {
      for (const key of Object.keys(settings ?? {})) {
        if (!keep.includes(key))
          warnings.push(`services.${service}.${key} not carried over: kubeha renders its flags itself`);
      }
    }
  }
  const hostCidr = commonRange(hosts.map((h) => h.address));
  if (!hostCidr)
    warnings.push(
      "network.hostCidr left out: it cannot be derived from host names; set the hosts' L2 segment before you give the cluster a VIP",
    );
  else
    warnings.push(
      `network.hostCidr ${hostCidr} derived from the host addresses: check it is the hosts' L2 segment`,
    );

  const upstream = rke.kubernetes_version?.match(/^v\d+\.\d+\.\d+/)?.[0];
  const version = upstream && isSupported(upstream) ? upstream : undefined;
  if (rke.kubernetes_version && upstream && !version) {
    warnings.push(
      `kubernetes_version ${rke.kubernetes_version} left out: kubeha deploys ${SUPPORTED_MINORS.map((m) => `v${m}`).join(", ")} (the versions whose flags it knows); upgrade the cluster one minor version at a time before kubeha takes over its control plane`,
    );
  } else if (rke.kubernetes_version && version !== rke.kubernetes_version) {
    warnings.push(
      `kubernetes_version ${rke.kubernetes_version} became ${version ?? "the default"}: kubeha runs upstream releases`,
    );
  }
  const etcd = etcdTimings(services, warnings);
  const rawName = rke.cluster_name?.toLowerCase();
  const name = rawName && dns1123Label.test(rawName) ? rawName : "imported";

  const spec: Record<string, unknown> = {
    apiVersion: "kubeha/v1alpha1",
    kind: "Cluster",
    metadata: { name },
    spec: {
      ...(Object.keys(clusterSsh).length > 0 && { ssh: clusterSsh }),
      network: {
        ...(hostCidr && { hostCidr }),
        ...(typeof kubeController.cluster_cidr === "string" && { podCidr: kubeController.cluster_cidr }),
        ...(typeof kubeApi.service_cluster_ip_range === "string" && {
          serviceCidr: kubeApi.service_cluster_ip_range,
        }),
      },
      hosts,
      controlPlane: { endpoint },
      ...(Object.keys(etcd).length > 0 && { etcd }),
      ...(ingressOn && hosts.some((h) => h.roles.includes("edge")) && { ingress: { ports: [80, 443] } }),
      ...(version && { kubernetes: { version } }),
    },
  };
  return { spec, warnings };
}
