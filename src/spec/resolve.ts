/**
 * Hosts named by DNS get their IP address once, when `kubeha up` starts: the
 * checks that need addresses (spec/rules.ts, DEFERRED_CHECKS) run then, and
 * the units bind to the address it found. The host keeps its name for
 * everything else: SSH, cluster traffic, certificates.
 */
import { lookup } from "node:dns/promises";
import { parseCidr } from "../core/ip.js";
import type { Cluster, Host } from "./defaults.js";

/** Resolves one name to one address of `family` (4 or 6). */
export type Resolver = (name: string, family: 4 | 6) => Promise<string>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS). */
export const systemResolver: Resolver = async (name, family) => (await lookup(name, { family })).address;

/** A host that could not be resolved, and why. */
export interface Unresolved {
  readonly host: Host;
  readonly reason: string;
}

/** `cluster` with every DNS-named host's `ip` set, or the hosts that could not be resolved. */
export async function resolveHosts(
  cluster: Cluster,
  resolver: Resolver = systemResolver,
): Promise<{ cluster: Cluster; unresolved: Unresolved[] }> {
  const family = parseCidr(cluster.network.hostCidr ?? "")?.version ?? 4;
  const unresolved: Unresolved[] = [];
  const hosts = await Promise.all(
    cluster.hosts.map(async (h): Promise<Host> => {
      if (h.ip) return h;
      try {
        return { ...h, ip: await resolver(h.address, family) };
      } catch (err) {
        unresolved.push({ host: h, reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message });
        return h;
      }
    }),
  );
  return { cluster: { ...cluster, hosts }, unresolved };
}
