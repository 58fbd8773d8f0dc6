/**
 * The lab's topology: which hosts to make, with which roles, on which /24.
 * Without -f, the default 7 hosts; with -f, a small YAML file:
 *
 *   apiVersion: kubeha/v1alpha1
 *   kind: Lab
 *   spec:
 *     cidr: 192.168.61.0/24
 *     hosts: [{ name: cp1, roles: [controlplane, etcd] }, { name: w1, roles: [worker], hostNumber: 21 }]
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { z } from "zod";
import { SpecError, UsageError } from "../core/errors.js";
import { cidrAddress, parseCidr } from "../core/ip.js";
import { formatPath } from "../spec/load.js";
import { dns1123Label, Role } from "../spec/schema.js";

/** One lab host. */
export interface LabHost {
  readonly name: string;
  readonly address: string;
  readonly roles: readonly Role[];
}

/** The lab topology with addresses assigned. */
export interface LabTopology {
  readonly cidr: string;
  /** The operator side's address on the bridge (.1). */
  readonly bridgeAddress: string;
  readonly apiVip: string;
  /** One ingress VIP per edge host (.200, .201, ...). */
  readonly ingressVips: readonly string[];
  readonly hosts: readonly LabHost[];
}

const LabSpecSchema = z.strictObject({
  apiVersion: z.literal("kubeha/v1alpha1"),
  kind: z.literal("Lab"),
  spec: z.strictObject({
    cidr: z
      .string()
      .refine((s) => parseCidr(s)?.prefix === 24 && parseCidr(s)?.version === 4, {
        error: "must be an IPv4 /24 such as 192.168.61.0/24",
      })
      .optional(),
    hosts: z
      .array(
        z.strictObject({
          name: z.string().regex(dns1123Label).max(20),
          roles: z.array(Role).min(1),
          hostNumber: z.number().int().min(2).max(254).optional(),
        }),
      )
      .min(1)
      .max(40),
  }),
});

export const DEFAULT_LAB_CIDR = "192.168.61.0/24";

/** A host to make; `hostNumber` is the last octet (default: the next free one from 11). */
export interface LabHostRequest {
  readonly name: string;
  readonly roles: readonly Role[];
  readonly hostNumber?: number;
}

/** The default topology: cp1..cp3 (controlplane, etcd), w1..w2 (worker), edge1..edge2 (worker, edge). */
export const DEFAULT_LAB_HOSTS: readonly LabHostRequest[] = [
  { name: "cp1", roles: ["controlplane", "etcd"], hostNumber: 11 },
  { name: "cp2", roles: ["controlplane", "etcd"], hostNumber: 12 },
  { name: "cp3", roles: ["controlplane", "etcd"], hostNumber: 13 },
  { name: "w1", roles: ["worker"], hostNumber: 21 },
  { name: "w2", roles: ["worker"], hostNumber: 22 },
  { name: "edge1", roles: ["worker", "edge"], hostNumber: 31 },
  { name: "edge2", roles: ["worker", "edge"], hostNumber: 32 },
];

/** .0 network, .1 bridge, .100 API VIP, .255 broadcast; the ingress VIPs from .200, one per edge host. */
const RESERVED = [0, 1, 100, 255];
const FIRST_INGRESS_VIP = 200;

/** Assigns addresses: the bridge .1, the API VIP .100, ingress VIPs from .200, hosts from .11 unless numbered. */
export function labTopology(hosts: readonly LabHostRequest[], cidr = DEFAULT_LAB_CIDR): LabTopology {
  const range = parseCidr(cidr);
  if (!range) throw new UsageError(`lab range ${cidr} is not a CIDR range`);
  const names = new Set<string>();
  for (const h of hosts) {
    if (names.has(h.name)) throw new UsageError(`lab host ${h.name} is listed twice`);
    names.add(h.name);
  }
  const numbers = new Map<string, number>();
  const edges = hosts.filter((h) => h.roles.includes("edge")).length;
  const ingressNumbers = Array.from({ length: edges }, (_, i) => FIRST_INGRESS_VIP + i);
  const used = new Set<number>([...RESERVED, ...ingressNumbers]);
  for (const h of hosts) {
    if (h.hostNumber === undefined) continue;
    if (used.has(h.hostNumber) || h.hostNumber < 2 || h.hostNumber > 254) {
      throw new UsageError(
        `lab host ${h.name}: host number ${h.hostNumber} is taken or reserved (.1 bridge, .100 API VIP, .200 on ingress VIPs)`,
      );
    }
    used.add(h.hostNumber);
    numbers.set(h.name, h.hostNumber);
  }
  let next = 11;
  for (const h of hosts) {
    if (numbers.has(h.name)) continue;
    while (used.has(next)) next++;
    if (next > 254) throw new UsageError("too many lab hosts for one /24");
    used.add(next);
    numbers.set(h.name, next);
  }
  return {
    cidr,
    bridgeAddress: cidrAddress(range, 1),
    ingressVips: ingressNumbers.map((n) => cidrAddress(range, n)),
    apiVip: cidrAddress(range, 100),
    hosts: hosts.map((h) => ({
      name: h.name,
      roles: [...h.roles],
      address: cidrAddress(range, numbers.get(h.name) ?? 0),
    })),
  };
}

/** Reads a lab spec file. */
export function loadLabSpec(file: string): LabTopology {
  let data: unknown;
  try {
    data = parse(readFileSync(file, "utf8"));
  } catch (cause) {
    throw new UsageError(`cannot read lab spec ${file}: ${(cause as Error).message}`, { cause });
  }
  const parsed = LabSpecSchema.safeParse(data);
  if (!parsed.success) {
    throw new SpecError(
      file,
      parsed.error.issues.map((i) => ({
        severity: "error" as const,
        path: formatPath(i.path.filter((k): k is string | number => typeof k !== "symbol")) || "(document)",
        message: i.message,
      })),
    );
  }
  return labTopology(parsed.data.spec.hosts, parsed.data.spec.cidr);
}
