/**
 * The `kubernetes` section of the cluster spec (schema.ts): the release and
 * where its binaries come from, the components' settings, the container
 * runtime. Defaults are applied in defaults.ts, cross-field rules in rules.ts.
 */
import { z } from "zod";
import { DEFAULT_RUNTIME } from "./defaults.js";

/** An http(s) URL, optional (mirrors, download URLs). */
export const httpUrl = z
  .string()
  .regex(/^https?:\/\//, { error: "must be an http(s) URL" })
  .optional();

export const arch = z
  .enum(["amd64", "arm64"], { error: 'must be "amd64" or "arm64"' })
  .optional()
  .describe("The hosts' architecture (default amd64)");

const release = (what: string, example: string) =>
  z
    .string()
    .regex(/^v\d+\.\d+\.\d+$/, { error: `must look like ${example}` })
    .optional()
    .describe(`${what} release (default ${example})`);
/** The runtime's releases, defaults in spec/defaults.ts DEFAULT_RUNTIME. */
const runtimeVersions = {
  containerd: release("containerd", DEFAULT_RUNTIME.containerd),
  runc: release("runc", DEFAULT_RUNTIME.runc),
  cni: release("CNI plugins", DEFAULT_RUNTIME.cni),
};

/** A control-plane component's settings: extra flags over kubeha's (checked against the version's flag list). */
const component = (name: string) =>
  z
    .strictObject({
      extraArgs: z
        .record(
          z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, { error: "a flag name without dashes in front" }),
          z.string(),
        )
        .optional()
        .describe(`Flags of ${name} over kubeha's: a name replaces kubeha's value, a new name is added`),
    })
    .optional()
    .describe(`${name} settings`);

/** The Kubernetes release, its components and the container runtime. */
export const KubernetesSchema = z
  .strictObject({
    version: z
      .string()
      .regex(/^v\d+\.\d+\.\d+$/, { error: "must look like v1.34.2" })
      .optional()
      .describe("Kubernetes version (default v1.34.2)"),
    binaries: z
      .discriminatedUnion(
        "source",
        [
          z.strictObject({
            source: z.literal("download"),
            mirror: httpUrl.describe(
              "Base URL of an internal mirror with the release server's layout (default https://dl.k8s.io/release)",
            ),
            arch,
          }),
          z.strictObject({
            source: z.literal("dir"),
            path: z
              .string()
              .min(1)
              .describe("A directory of the binaries, or kubernetes-server-linux-ARCH.tar.gz"),
            arch,
          }),
          z.strictObject({ source: z.literal("standin") }),
        ],
        {
          error:
            'source must be "download", "dir" (with a path) or "standin" (the lab\'s apiserver stand-in)',
        },
      )
      .optional()
      .describe("Where the control-plane binaries come from (default download)"),
    apiserver: component("kube-apiserver"),
    controllerManager: component("kube-controller-manager"),
    scheduler: component("kube-scheduler"),
    clusterDomain: z
      .string()
      .regex(/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/, {
        error: "must be a DNS domain such as cluster.local",
      })
      .optional()
      .describe("The cluster's DNS domain (default cluster.local)"),
    kubelet: component("kubelet")
      .unwrap()
      .extend({
        swap: z
          .enum(["fail", "NoSwap", "LimitedSwap"], {
            error: 'must be "fail", "NoSwap" or "LimitedSwap"',
          })
          .optional()
          .describe(
            "A host with swap on: fail (default: kubelet refuses to start, preflight says so), or run with the kubelet's swapBehavior",
          ),
      })
      .optional()
      .describe("kubelet settings"),
    containerd: z
      .discriminatedUnion(
        "source",
        [
          z.strictObject({ source: z.literal("package") }),
          z.strictObject({
            source: z.literal("download"),
            ...runtimeVersions,
            mirror: httpUrl.describe("Base URL with GitHub's release layout, in place of https://github.com"),
            arch,
          }),
          z.strictObject({
            source: z.literal("dir"),
            path: z.string().min(1).describe("A directory of the three projects' release files"),
            ...runtimeVersions,
            arch,
          }),
        ],
        { error: 'source must be "package", "download" or "dir" (with a path)' },
      )
      .optional()
      .describe(
        "Where containerd, runc and the CNI plugins come from (default package: Debian's, installed by apt)",
      ),
    kubeProxy: component("kube-proxy")
      .unwrap()
      .extend({
        mode: z
          .enum(["iptables", "nftables", "ipvs"], { error: 'must be "iptables", "nftables" or "ipvs"' })
          .optional()
          .describe("How kube-proxy programs Services (default iptables)"),
      })
      .optional()
      .describe("kube-proxy settings"),
  })
  .optional()
  .describe("The Kubernetes release and its control plane");
