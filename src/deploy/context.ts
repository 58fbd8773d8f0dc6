/**
 * What the phases of a command work with. A ClusterContext is what every
 * command that reaches hosts needs (`up` today; `status`, `drill` and
 * `etcd snapshot` are other phase lists over it): the cluster, its hosts with
 * their connections and facts, bounded per-host execution and progress
 * output. A DeployContext adds what only a deployment has: the files each
 * host must end up with, the restarts it owes, the PKI being prepared, and
 * the one helper through which every change goes, so that `--dry-run`
 * follows the very same path and only records instead of acting.
 */
import type { AddonApplier } from "../addons/apply.js";
import { HostError, KubehaError, MultiHostError } from "../core/errors.js";
import { settleLimit } from "../core/parallel.js";
import type { Member } from "../etcd/etcdctl.js";
import type { Cluster, Host } from "../spec/defaults.js";
import type { Role } from "../spec/schema.js";
import type { Transport } from "../transport/transport.js";
import type { DesiredFile } from "./desired.js";
import type { HostFacts } from "./facts.js";

/** Progress output, so tests can capture it. */
export interface Reporter {
  phase(title: string): void;
  host(host: string, line: string): void;
  info(line: string): void;
}

/** A reporter that prints nothing: for commands whose output is a report of their own (status, drill). */
export const silentReporter: Reporter = { phase: () => {}, host: () => {}, info: () => {} };

/** Opens a transport to a host (SSH in real runs, a scripted fake in unit tests). */
export type Connector = (host: Host, ctx: ClusterContext) => Promise<Transport>;

/** A host during a command: its spec, and its connection and facts once the phases have them. */
export interface ClusterHost {
  readonly spec: Host;
  transport?: Transport;
  facts?: HostFacts;
}

/** What every command that works on hosts is given. */
export interface ClusterInit {
  readonly cluster: Cluster;
  readonly stateDir: string;
  readonly report: Reporter;
  readonly connect: Connector;
  /** Hosts worked on at once. */
  readonly concurrency: number;
  /** Whether changes are only recorded (see DeployContext.change). */
  readonly dryRun: boolean;
}

/** The hosts of a cluster and how to work on them. */
export class ClusterContext<H extends ClusterHost = ClusterHost> {
  readonly cluster: Cluster;
  readonly stateDir: string;
  readonly report: Reporter;
  readonly connect: Connector;
  readonly concurrency: number;
  readonly dryRun: boolean;
  readonly hosts: readonly H[];
  /** The phase running now, for error messages; set by the runner. */
  phase = "";

  constructor(init: ClusterInit, makeHost: (spec: Host) => H) {
    this.cluster = init.cluster;
    this.stateDir = init.stateDir;
    this.report = init.report;
    this.connect = init.connect;
    this.concurrency = init.concurrency;
    this.dryRun = init.dryRun;
    this.hosts = init.cluster.hosts.map(makeHost);
  }

  /** Hosts carrying `role`, in spec order. */
  withRole(role: Role): H[] {
    return this.hosts.filter((h) => h.spec.roles.includes(role));
  }

  /** etcd members in spec order. */
  etcdMembers(): H[] {
    return this.withRole("etcd");
  }

  /** The hosts among `specs` (a service's hosts, say), in spec order. */
  among(specs: readonly Host[]): H[] {
    return this.hosts.filter((h) => specs.some((s) => s.name === h.spec.name));
  }

  /**
   * Runs `fn` on `hosts` with bounded parallelism; failures on several hosts
   * are reported together, each naming its host and this phase. A failure that
   * is not kubeha's own kind of error is a bug and is thrown as it is.
   */
  async onHosts(hosts: readonly H[], fn: (host: H) => Promise<void>): Promise<void> {
    const results = await settleLimit(hosts, this.concurrency, fn);
    const failures: HostError[] = [];
    results.forEach((r, i) => {
      if (r.status === "fulfilled") return;
      const err = r.reason;
      const host = hosts[i]?.spec.name ?? "?";
      if (err instanceof HostError) failures.push(err.inPhase(this.phase));
      else if (err instanceof MultiHostError) failures.push(...err.failures);
      else if (err instanceof KubehaError)
        failures.push(
          new HostError(host, this.phase, err.message, { cause: err, ...(err.hint && { hint: err.hint }) }),
        );
      else throw err;
    });
    if (failures.length > 0) throw new MultiHostError(this.phase, failures);
  }

  /** Runs `fn` on one host, its failure reported like onHosts does. */
  onHost(host: H, fn: (host: H) => Promise<void>): Promise<void> {
    return this.onHosts([host], fn);
  }

  /** The transport of a connected host. */
  transport(host: H): Transport {
    if (!host.transport) throw new HostError(host.spec.name, this.phase, "not connected");
    return host.transport;
  }
}

/** The context of a command that only reads: every host at once, no progress output. */
export const readOnlyContext = (cluster: Cluster, stateDir: string, connect: Connector) =>
  new ClusterContext(
    { cluster, stateDir, report: silentReporter, connect, concurrency: cluster.hosts.length, dryRun: false },
    (spec) => ({ spec }),
  );

/** A host during a deployment. */
export interface DeployHost extends ClusterHost {
  /** The files it must end up with (set once the PKI is prepared). */
  desired?: readonly DesiredFile[];
  /** Service actions it owes because a file they read changed: `etcd`, `agent`, `agent-reload`. */
  readonly owed: Set<string>;
  /** Whether a unit file changed (systemd must reload its units). */
  unitChanged?: boolean;
}

/** One change made (or, in a dry run, that would be made) on a host. */
export interface Change {
  /** The host changed, or API_CHANGE for objects changed through the cluster's API. */
  readonly host: string;
  readonly what: string;
}

/** The `host` of changes made through the cluster's API (the add-ons) rather than on a host. */
export const API_CHANGE = "api";

export interface DeployOptions {
  readonly dryRun: boolean;
  readonly concurrency: number;
  readonly allowMemberRemoval: boolean;
  /** The spec file's directory: relative paths in the spec are resolved against it. */
  readonly specDir: string;
  /** The spec file, to say which state directories lie near it. */
  readonly specFile?: string;
  /** Hash every file on the hosts, trusting no recorded digest of a large file. */
  readonly verify?: boolean;
  /** How add-ons reach the API (default: server-side apply through the kubeconfig's endpoint; tests script it). */
  readonly addonApplier?: (kubeconfig: string) => AddonApplier;
}

/** The state of one run of `kubeha up`. */
export class DeployContext extends ClusterContext<DeployHost> {
  readonly options: DeployOptions;
  /** Where host files are read from: the PKI prepared in scratch until it is saved to the state directory. */
  pkiDir: string;
  /** The scratch directory the PKI is prepared in, removed when the run ends. */
  scratchDir?: string;
  /** Local caches the run learnt (digests, certificate verdicts), saved with the PKI once the checks passed. */
  readonly caches: { save(): void }[] = [];
  readonly changes: Change[] = [];
  /** The etcd members as the running cluster lists them (undefined: no member runs yet). */
  liveMembers?: readonly Member[];

  constructor(
    init: Omit<ClusterInit, "dryRun" | "concurrency"> & { options: DeployOptions; pkiDir: string },
  ) {
    super({ ...init, dryRun: init.options.dryRun, concurrency: init.options.concurrency }, (spec) => ({
      spec,
      owed: new Set<string>(),
    }));
    this.options = init.options;
    this.pkiDir = init.pkiDir;
  }

  /** The one way to change a host: recorded always, performed unless this is a dry run. */
  /** Records a change the cluster's API made: known only once it is applied (server-side apply says). */
  apiChanged(what: string): void {
    this.changes.push({ host: API_CHANGE, what });
    this.report.info(`api: ${what}`);
  }

  async change(host: DeployHost, what: string, act: () => Promise<void>): Promise<void> {
    this.changes.push({ host: host.spec.name, what });
    this.report.host(host.spec.name, `${this.dryRun ? "would " : ""}${what}`);
    if (!this.dryRun) await act();
  }
}
