/**
 * No two listeners on one host may want the same port on the same address (or
 * one of them on every address). The common clash: a node-local proxy or an
 * API VIP port on a port an apiserver or etcd already holds.
 */
import type { Finding, Rule, SpecPath } from "../spec/rules.js";
import { servicesOn } from "./registry.js";
import type { Listener } from "./service.js";

const WILDCARD = "0.0.0.0";

/** Pairs of listeners that would collide (same port, same or wildcard address). */
export function clashes(listeners: readonly Listener[]): [Listener, Listener][] {
  const out: [Listener, Listener][] = [];
  listeners.forEach((a, i) => {
    for (const b of listeners.slice(i + 1)) {
      const sameAddress = a.address === b.address || a.address === WILDCARD || b.address === WILDCARD;
      if (a.port === b.port && sameAddress) out.push([a, b]);
    }
  });
  return out;
}

/** The spec rule: every clash, once per message, with the hosts it happens on. */
export const portsFree: Rule = {
  reads: [
    ["spec", "hosts"],
    ["spec", "controlPlane"],
    ["spec", "ingress"],
  ],
  eachHost: true,
  check(cluster) {
    const byMessage = new Map<string, { path: SpecPath; hosts: string[] }>();
    for (const host of cluster.hosts) {
      const listeners = servicesOn(cluster, host).flatMap((s) => s.listeners(cluster, host));
      for (const [a, b] of clashes(listeners)) {
        const path = b.path ?? a.path ?? ["spec", "hosts"];
        const message = `port ${a.port} is wanted twice on one address: ${a.owner} (${a.address}) and ${b.owner} (${b.address})`;
        const entry = byMessage.get(message) ?? { path, hosts: [] };
        entry.hosts.push(host.name);
        byMessage.set(message, entry);
      }
    }
    return [...byMessage].map(
      ([message, { path, hosts }]): Finding => ({
        severity: "error",
        path,
        message: `${message}, on ${hosts.join(", ")}: pick another port`,
      }),
    );
  },
};
