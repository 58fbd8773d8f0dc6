/**
 * `kubeha plan`: the topology, its failure tolerance, its single points of
 * failure and, on request, what survives the loss of given hosts. No network.
 */
import { UsageError } from "../core/errors.js";
import type { Cluster } from "../spec/defaults.js";
import type { LoadedSpec } from "../spec/load.js";
import { etcdQuorum } from "../spec/quorum.js";
import { DEFERRED_CHECKS, unresolvedHosts } from "../spec/rules.js";
import {
  type Capability,
  type CapabilityName,
  capabilitiesOf,
  remaining,
  survives,
  toleratesFailures,
} from "./capabilities.js";

/** A host whose loss alone breaks a capability. */
export interface SinglePointOfFailure {
  readonly capability: CapabilityName;
  readonly hosts: readonly string[];
  readonly reason: string;
}

/** The plan as printed by `--output json`. */
export interface Plan {
  readonly cluster: string;
  readonly hosts: readonly { name: string; address: string; roles: readonly string[] }[];
  readonly endpoint: Cluster["controlPlane"]["endpoint"];
  readonly tolerance: {
    readonly etcd: { members: number; quorum: number; toleratesFailures: number };
    readonly apiserver: { instances: number; toleratesFailures: number };
    readonly ingress: {
      edgeHosts: number;
      toleratesFailures: number;
      /** Ingress VIPs, and how many each surviving edge holds at most after `toleratesFailures` edges are lost. */
      vips: number;
      vipsPerEdgeAtWorst: number;
    };
  };
  readonly singlePointsOfFailure: readonly SinglePointOfFailure[];
  readonly findings: readonly {
    severity: "error" | "warning";
    path: string;
    message: string;
    line?: number;
    col?: number;
  }[];
  /** Hosts named by DNS, and the checks that wait until `kubeha up` resolves them. */
  readonly deferred?: { readonly hosts: readonly string[]; readonly checks: readonly string[] };
  readonly whatIf?: {
    readonly lost: readonly string[];
    readonly survives: Readonly<Record<CapabilityName, boolean>>;
  };
}

function singlePointsOfFailure(cluster: Cluster, caps: readonly Capability[]): SinglePointOfFailure[] {
  const out: SinglePointOfFailure[] = [];
  for (const cap of caps.filter((c) => survives(c, new Set()))) {
    const byReason = new Map<string, string[]>();
    for (const host of cluster.hosts) {
      const lost = new Set([host.name]);
      const broken = cap.requires.find((r) => remaining(r, lost) < r.atLeast);
      if (!broken) continue;
      const reason = `${cap.title} needs ${broken.atLeast} of ${broken.hosts.length} ${broken.what} (${broken.hosts.join(", ")}); losing any one of these leaves ${broken.hosts.length - 1}`;
      byReason.set(reason, [...(byReason.get(reason) ?? []), host.name]);
    }
    for (const [reason, hosts] of byReason) out.push({ capability: cap.name, hosts, reason });
  }
  return out;
}

/** Balanced placement: a surviving edge holds at most ⌈VIPs / edges alive⌉ of them. */
function ingressTolerance(cluster: Cluster, tolerates: number): Plan["tolerance"]["ingress"] {
  const edgeHosts = cluster.hosts.filter((h) => h.roles.includes("edge")).length;
  const vips = cluster.ingress?.vips.length ?? 0;
  const alive = edgeHosts - tolerates;
  return {
    edgeHosts,
    toleratesFailures: tolerates,
    vips,
    vipsPerEdgeAtWorst: alive > 0 ? Math.ceil(vips / alive) : 0,
  };
}

/** Builds the plan for a loaded spec; `whatIf` names hosts to consider lost. */
export function buildPlan(loaded: LoadedSpec, whatIf?: readonly string[]): Plan {
  const { cluster } = loaded;
  const named = unresolvedHosts(cluster);
  const caps = capabilitiesOf(cluster);
  const cap = (name: CapabilityName) => caps.find((c) => c.name === name) as Capability;
  const hosts = cluster.hosts;
  const count = (role: string) => hosts.filter((h) => h.roles.some((r) => r === role)).length;

  let whatIfResult: Plan["whatIf"];
  if (whatIf) {
    const unknown = whatIf.filter((n) => !hosts.some((h) => h.name === n));
    if (unknown.length > 0) {
      throw new UsageError(
        `--what-if names unknown host${unknown.length === 1 ? "" : "s"}: ${unknown.join(", ")}`,
        {
          hint: `hosts in this spec: ${hosts.map((h) => h.name).join(", ")}`,
        },
      );
    }
    const lost = new Set(whatIf);
    whatIfResult = {
      lost: [...lost],
      survives: {
        etcdQuorum: survives(cap("etcdQuorum"), lost),
        api: survives(cap("api"), lost),
        ingress: survives(cap("ingress"), lost),
      },
    };
  }

  return {
    cluster: cluster.name,
    hosts: hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles })),
    endpoint: cluster.controlPlane.endpoint,
    tolerance: {
      etcd: { ...etcdQuorum(count("etcd")), toleratesFailures: toleratesFailures(cap("etcdQuorum")) },
      apiserver: { instances: count("controlplane"), toleratesFailures: toleratesFailures(cap("api")) },
      ingress: ingressTolerance(cluster, toleratesFailures(cap("ingress"))),
    },
    singlePointsOfFailure: singlePointsOfFailure(cluster, caps),
    findings: loaded.warnings,
    ...(named.length > 0 && { deferred: { hosts: named.map((h) => h.name), checks: [...DEFERRED_CHECKS] } }),
    ...(whatIfResult && { whatIf: whatIfResult }),
  };
}
