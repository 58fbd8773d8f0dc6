/**
 * What every phase of a deployment works with: the cluster, the hosts with
 * their connections and facts, and the one helper through which every change
 * on a host goes, so that `--dry-run` follows the very same path and only
 * records instead of acting.
 */
import { HostError, MultiHostError } from "../core/errors.js";
import { settleLimit } from "../core/parallel.js";
import type { Cluster, Host } from "../spec/defaults.js";
import type { Transport } from "../transport/transport.js";
import type { DesiredFile, ServiceAction } from "./desired.js";
import type { HostFacts } from "./facts.js";

/** A host during a deployment. */
export interface DeployHost {
  readonly spec: Host;
  transport?: Transport;
  facts?: HostFacts;
  /** The files it must end up with (set once the PKI is known). */
  desired?: readonly DesiredFile[];
  /** Services to restart (or reload) because a file they read changed. */
  readonly restart: Set<ServiceAction>;
  /** Whether a unit file changed (systemd must reload its units). */
  unitChanged?: boolean;
}

/** One change made (or, in a dry run, that would be made) on a host. */
export interface Change {
  readonly host: string;
  readonly what: string;
}

/** Progress output, so tests can capture it. */
export interface Reporter {
  phase(title: string): void;
  host(host: string, line: string): void;
  info(line: string): void;
}

export interface DeployOptions {
  readonly dryRun: boolean;
  readonly concurrency: number;
  readonly allowMemberRemoval: boolean;
  /** The spec file's directory: relative paths in the spec are resolved against it. */
  readonly specDir: string;
}

/** Opens a transport to a host (SSH in real runs, a scripted fake in unit tests). */
export type Connector = (host: Host, ctx: DeployContext) => Promise<Transport>;

/** The state of one run of `kubeha up`. */
export class DeployContext {
  readonly cluster: Cluster;
  readonly stateDir: string;
  /** Where host files are read from: the state's PKI, or a scratch copy in a dry run. */
  pkiDir: string;
  readonly options: DeployOptions;
  readonly connect: Connector;
  readonly report: Reporter;
  readonly hosts: readonly DeployHost[];
  readonly changes: Change[] = [];
  /** The phase running now, for error messages. */
  phase = "";

  constructor(init: {
    cluster: Cluster;
    stateDir: string;
    pkiDir: string;
    options: DeployOptions;
    report: Reporter;
    connect: Connector;
  }) {
    this.connect = init.connect;
    this.cluster = init.cluster;
    this.stateDir = init.stateDir;
    this.pkiDir = init.pkiDir;
    this.options = init.options;
    this.report = init.report;
    this.hosts = init.cluster.hosts.map((spec) => ({ spec, restart: new Set<ServiceAction>() }));
  }

  /** Hosts carrying `role`. */
  withRole(role: string): DeployHost[] {
    return this.hosts.filter((h) => h.spec.roles.some((r) => r === role));
  }

  /** etcd members in spec order. */
  etcdMembers(): DeployHost[] {
    return this.withRole("etcd");
  }

  /** The one way to change a host: recorded always, performed unless this is a dry run. */
  async change(host: DeployHost, what: string, act: () => Promise<void>): Promise<void> {
    this.changes.push({ host: host.spec.name, what });
    this.report.host(host.spec.name, `${this.options.dryRun ? "would " : ""}${what}`);
    if (!this.options.dryRun) await act();
  }

  /** Runs `fn` on `hosts` with bounded parallelism; failures on several hosts are reported together. */
  async onHosts(hosts: readonly DeployHost[], fn: (host: DeployHost) => Promise<void>): Promise<void> {
    const results = await settleLimit(hosts, this.options.concurrency, fn);
    const failures = results.flatMap((r, i) => {
      if (r.status === "fulfilled") return [];
      const host = hosts[i]?.spec.name ?? "?";
      const err = r.reason;
      if (err instanceof HostError) return [err];
      if (err instanceof MultiHostError) return [...err.failures];
      return [
        new HostError(host, this.phase, err instanceof Error ? err.message : String(err), { cause: err }),
      ];
    });
    if (failures.length > 0) throw new MultiHostError(this.phase, failures);
  }

  /** The transport of a connected host. */
  transport(host: DeployHost): Transport {
    if (!host.transport) throw new HostError(host.spec.name, this.phase, "not connected");
    return host.transport;
  }
}
