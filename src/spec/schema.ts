/**
 * The cluster spec (`apiVersion: kubeha/v1alpha1`, `kind: Cluster`): the single
 * source of the spec's types and of the JSON Schema in `schema/`. Every field
 * is optional here when it has a default; defaults are applied after
 * validation (defaults.ts) and cross-field rules after that (rules.ts).
 */
import { z } from "zod";
import { parseCidr, parseIp } from "../core/ip.js";
import { arch, httpUrl, KubernetesSchema } from "./schema-kubernetes.js";

/** DNS-1123 label: lowercase alphanumerics and '-', at most 63 characters. */
export const dns1123Label = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** DNS-1123 subdomain: labels joined by dots, at most 253 characters. */
export const dns1123Subdomain =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const labelName = /^(?=.{1,63}$)[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^(?=.{0,63}$)([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;

/** The roles a host can carry. */
export const roles = ["controlplane", "etcd", "worker", "edge"] as const;
export const Role = z.enum(roles, {
  error: () => `must be one of ${roles.join(", ")}`,
});
export type Role = z.infer<typeof Role>;

const ipAddress = z
  .string()
  .refine((s) => parseIp(s) !== undefined, {
    error: (i) => `${JSON.stringify(i.input)} is not an IP address`,
  })
  .describe("An IPv4 or IPv6 address");

/** Whether `s` is a host name rather than an address: DNS-1123, and not all digits and dots (a mistyped IPv4). */
export const isDnsName = (s: string) => dns1123Subdomain.test(s) && !/^[\d.]+$/.test(s);

const hostAddress = z
  .string()
  .refine((s) => parseIp(s) !== undefined || isDnsName(s), {
    error: (i) => `${JSON.stringify(i.input)} is neither an IP address nor a DNS name`,
  })
  .describe("An IPv4 or IPv6 address, or a DNS name resolved once by `kubeha up`");

const cidr = z
  .string()
  .refine((s) => parseCidr(s) !== undefined, {
    error: (i) => `${JSON.stringify(i.input)} is not a CIDR range (like 10.42.0.0/16, with no host bits set)`,
  })
  .describe("A CIDR range such as 10.42.0.0/16");

const port = z
  .number()
  .int({ error: "must be a whole number" })
  .min(1, { error: "must be a port between 1 and 65535" })
  .max(65535, { error: "must be a port between 1 and 65535" });

const dnsName = z.string().regex(dns1123Subdomain, {
  error: "must be a DNS name: lowercase letters, digits, '-' and '.'",
});

/** A Kubernetes label key: optional DNS prefix and '/', then a name of at most 63 characters. */
export function isLabelKey(key: string): boolean {
  const slash = key.lastIndexOf("/");
  if (slash < 0) return labelName.test(key);
  const prefix = key.slice(0, slash);
  return dns1123Subdomain.test(prefix) && labelName.test(key.slice(slash + 1));
}

const labels = z
  .record(
    z.string().refine(isLabelKey, {
      error: (i) => `label key ${JSON.stringify(i.input)} is not a valid Kubernetes label key`,
    }),
    z.string().regex(labelValue, {
      error:
        "label value must be at most 63 characters of letters, digits, '-', '_' and '.', starting and ending alphanumeric",
    }),
  )
  .describe("Kubernetes node labels");

/** SSH settings; `spec.ssh` gives defaults, a host's own `ssh` overrides them. */
export const SshSchema = z
  .strictObject({
    user: z.string().min(1).optional().describe("Login user (default root)"),
    port: port.optional().describe("SSH port (default 22)"),
    keyPath: z.string().min(1).optional().describe("Private key file (default ~/.ssh/id_ed25519)"),
    knownHostsPath: z
      .string()
      .min(1)
      .optional()
      .describe(
        "known_hosts file to pin host keys from; otherwise keys are pinned on first use in the state directory",
      ),
  })
  .describe("SSH connection settings");

const Taint = z.strictObject({
  key: z.string().refine(isLabelKey, { error: "taint key must be a valid Kubernetes label key" }),
  value: z.string().regex(labelValue, { error: "taint value must be a valid label value" }).optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"], {
    error: "must be one of NoSchedule, PreferNoSchedule, NoExecute",
  }),
});

/** One machine of the cluster. */
export const HostSchema = z
  .strictObject({
    name: z.string().regex(dns1123Subdomain, {
      error:
        "host name must be DNS-1123: lowercase letters, digits, '-' and '.', starting and ending alphanumeric",
    }),
    address: hostAddress.describe(
      "The address or DNS name kubeha reaches the host at and cluster traffic uses; certificates carry it",
    ),
    roles: z.array(Role).min(1, { error: "a host needs at least one role" }).describe("What the host runs"),
    labels: labels.optional(),
    taints: z.array(Taint).optional(),
    ssh: SshSchema.optional(),
  })
  .describe("A host of the cluster");

const VipEndpoint = z.strictObject({
  mode: z.literal("vip"),
  vip: ipAddress.describe("The floating API address; must lie inside network.hostCidr"),
  port: port.optional().describe("API port on the VIP (default 6443)"),
  dnsNames: z.array(dnsName).optional().describe("Extra DNS names for the apiserver certificate"),
  leaseTtlSeconds: z
    .number()
    .int()
    .min(1)
    .max(60)
    .optional()
    .describe(
      "TTL of the etcd lease that fences the VIP holder (default 2); etcd raises TTLs under 1.5 x its election timeout",
    ),
});

const ExternalEndpoint = z.strictObject({
  mode: z.literal("external"),
  address: z
    .string()
    .min(1, { error: "the external load balancer's address is required" })
    .describe("Your own L4 load balancer's DNS name or address"),
  port: port.optional().describe("API port on the load balancer (default 6443)"),
  dnsNames: z.array(dnsName).optional().describe("Extra DNS names for the apiserver certificate"),
});

/** The whole cluster spec as a user writes it. */
export const ClusterSpecSchema = z
  .strictObject({
    apiVersion: z.literal("kubeha/v1alpha1", { error: 'must be "kubeha/v1alpha1"' }),
    kind: z.literal("Cluster", { error: 'must be "Cluster"' }),
    metadata: z.strictObject({
      name: z.string().regex(dns1123Label, {
        error: "cluster name must be a DNS-1123 label: lowercase letters, digits and '-', at most 63",
      }),
    }),
    spec: z.strictObject({
      ssh: SshSchema.optional(),
      network: z
        .strictObject({
          hostCidr: cidr.optional().describe("The L2 segment the hosts and VIPs share; required with a VIP"),
          podCidr: cidr.optional().describe("Pod network (default 10.42.0.0/16)"),
          serviceCidr: cidr.optional().describe("Service network (default 10.43.0.0/16)"),
        })
        .optional()
        .describe("Address ranges"),
      hosts: z.array(HostSchema).min(1, { error: "list at least one host" }),
      controlPlane: z
        .strictObject({
          endpoint: z
            .discriminatedUnion("mode", [VipEndpoint, ExternalEndpoint], {
              error: 'mode must be "vip" (kubeha floats an address) or "external" (your own load balancer)',
            })
            .describe("How clients reach the API"),
          apiserverPort: port
            .optional()
            .describe("Port each apiserver listens on at its host address (default 6443)"),
          nodeLocalProxy: z
            .strictObject({ port: port.optional().describe("Port on 127.0.0.1 (default 6443)") })
            .optional()
            .describe("The proxy on 127.0.0.1 of every host without an apiserver"),
        })
        .describe("The API endpoint and the node-local proxies"),
      etcd: z
        .strictObject({
          heartbeatMs: z
            .number()
            .int()
            .min(10)
            .max(5000)
            .optional()
            .describe("Heartbeat interval (default 100)"),
          electionMs: z
            .number()
            .int()
            .min(50)
            .max(50000)
            .optional()
            .describe("Election timeout (default 1000)"),
          binaries: z
            .discriminatedUnion(
              "source",
              [
                z.strictObject({ source: z.literal("package") }),
                z.strictObject({
                  source: z.literal("dir"),
                  path: z
                    .string()
                    .min(1)
                    .describe("A directory holding etcd and etcdctl, or a release tarball (.tar.gz)"),
                }),
                z.strictObject({
                  source: z.literal("download"),
                  version: z
                    .string()
                    .regex(/^v3\.\d+\.\d+$/, { error: "must look like v3.6.5" })
                    .optional()
                    .describe("An upstream etcd release, checked against its published SHA256SUMS"),
                  mirror: httpUrl.describe(
                    "Base URL with the release page's layout (default https://github.com/etcd-io/etcd/releases/download)",
                  ),
                  url: httpUrl.describe(
                    "A release tarball's URL, instead of version (then sha256 is required)",
                  ),
                  sha256: z
                    .string()
                    .regex(/^[0-9a-f]{64}$/, { error: "must be the tarball's SHA-256, 64 hex digits" })
                    .optional(),
                  arch,
                }),
              ],
              {
                error:
                  'source must be "package", "dir" (with a path) or "download" (with a version, or url and sha256)',
              },
            )
            .optional()
            .describe(
              "Where etcd comes from (default: the upstream release v3.6.5, downloaded and checked; package: Debian's 3.4, for the lab)",
            ),
          snapshots: z
            .strictObject({
              enabled: z.boolean().optional().describe("Scheduled snapshots on (default true)"),
              every: z
                .string()
                .regex(/^[1-9]\d*(s|m|h|d)$/, { error: 'must be a number with s, m, h or d, like "12h"' })
                .optional()
                .describe("How often a snapshot is taken (default 12h)"),
              keep: z
                .number()
                .int()
                .min(1)
                .max(1000)
                .optional()
                .describe("How many scheduled snapshots the timer's host keeps (default 6)"),
            })
            .optional()
            .describe(
              "Scheduled snapshots: a systemd timer on every member, and only the first healthy member in spec order takes them",
            ),
        })
        .optional()
        .describe("etcd timings, binaries and scheduled snapshots"),
      ingress: z
        .strictObject({
          vip: ipAddress
            .optional()
            .describe("One floating address of the ingress edge (the same as vips with one entry)"),
          vips: z
            .array(ipAddress)
            .min(1)
            .optional()
            .describe(
              "Floating addresses of the ingress edge, inside network.hostCidr: one per edge host lets every edge serve; publish them all as A records of the ingress names",
            ),
          ports: z.array(port).min(1).optional().describe("Ports on the ingress VIPs (default [80, 443])"),
          leaseTtlSeconds: z
            .number()
            .int()
            .min(1)
            .max(60)
            .optional()
            .describe("TTL of the etcd lease that fences each ingress VIP's holder (default 2)"),
          rebalance: z
            .strictObject({
              quietSeconds: z
                .number()
                .int()
                .min(10)
                .max(86400)
                .describe("How long no VIP moved and no edge came or went before one VIP moves"),
            })
            .optional()
            .describe(
              "Move VIPs back into balance after an edge returns, one at a time (default: off; every move resets the connections on that VIP)",
            ),
          dedicatedEdges: z
            .boolean()
            .optional()
            .describe("Taint edge hosts so that only the ingress controller runs there (default false)"),
        })
        .refine((i) => !(i.vip && i.vips), { error: "give either vip or vips, not both", path: ["vips"] })
        .optional()
        .describe("The ingress edge"),
      drill: z
        .strictObject({
          budgets: z
            .strictObject({
              maxOutageMs: z
                .number()
                .int()
                .min(0)
                .max(600_000)
                .optional()
                .describe(
                  "The longest a drill's client may go without service (default: the longest of a VIP lease + 1.5 s and two etcd election timeouts + 1 s)",
                ),
              nodeLocalProxyFailures: z
                .number()
                .int()
                .min(0)
                .optional()
                .describe(
                  "Failed requests allowed through a node-local proxy when an apiserver is killed or stopped (default 0)",
                ),
            })
            .optional()
            .describe("What `kubeha drill` holds each trial to"),
        })
        .optional()
        .describe("`kubeha drill` settings"),
      pki: z
        .strictObject({
          keyAlgorithm: z
            .enum(["ecdsa-p256", "rsa-2048"], { error: 'must be "ecdsa-p256" or "rsa-2048"' })
            .optional()
            .describe("Key type of every certificate (default ecdsa-p256)"),
          caValidityDays: z
            .number()
            .int()
            .min(1)
            .max(36500)
            .optional()
            .describe("CA lifetime (default 3650)"),
          leafValidityDays: z
            .number()
            .int()
            .min(1)
            .max(3650)
            .optional()
            .describe("Leaf certificate lifetime (default 365)"),
          renewBeforeDays: z
            .number()
            .int()
            .min(1)
            .optional()
            .describe("Re-issue leaves this many days before they expire (default 30)"),
        })
        .optional()
        .describe("Certificates"),
      kubernetes: KubernetesSchema,
    }),
  })
  .describe("A kubeha cluster: hosts, roles, endpoints and HA settings");

/** The spec as validated, before defaults. */
export type ClusterSpecInput = z.output<typeof ClusterSpecSchema>;
export type HostInput = z.output<typeof HostSchema>;
export type SshInput = z.output<typeof SshSchema>;
