/** The cluster's hosts with named queries, so role filters are not scattered around. */
import type { Host } from "./defaults.js";
import type { Role } from "./schema.js";

/** A readonly list of hosts with queries by role. */
export class HostList {
  readonly all: readonly Host[];

  constructor(hosts: readonly Host[]) {
    this.all = hosts;
  }

  /** Hosts that carry `role`. */
  withRole(role: Role): readonly Host[] {
    return this.all.filter((h) => h.roles.includes(role));
  }

  /** Hosts running an apiserver (and controller-manager, scheduler); API VIP candidates. */
  controlplanes(): readonly Host[] {
    return this.withRole("controlplane");
  }

  /** Members of the etcd quorum. */
  etcdMembers(): readonly Host[] {
    return this.withRole("etcd");
  }

  /** Hosts running workloads. */
  workers(): readonly Host[] {
    return this.withRole("worker");
  }

  /** Ingress edge hosts; ingress VIP candidates. */
  edges(): readonly Host[] {
    return this.withRole("edge");
  }

  /** Hosts without a local apiserver; they reach the API through the node-local proxy. */
  withoutApiserver(): readonly Host[] {
    return this.all.filter((h) => !h.roles.includes("controlplane"));
  }

  /** The host called `name`, if any. */
  byName(name: string): Host | undefined {
    return this.all.find((h) => h.name === name);
  }
}
