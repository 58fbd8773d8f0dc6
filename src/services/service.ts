/**
 * A host service as kubeha knows it: which hosts run it, what they listen on,
 * which files it needs (rendered through render/), which certificates it
 * reads, how to tell it is ready and how changes roll out. Desired files,
 * facts, starts, restarts and the port-clash check are loops over the
 * registry (registry.ts), so adding a component is one file plus one line.
 */

import type { EtcdProgramFiles } from "../binaries/etcd.js";
import type { RuntimeFiles } from "../binaries/runtime.js";
import type { Content, LocalFile } from "../core/local-file.js";
import type { Cluster, Host } from "../spec/defaults.js";

/** One listening socket a host will have. */
export interface Listener {
  /** Bind address; `0.0.0.0` means every address of the host. */
  readonly address: string;
  readonly port: number;
  /** Who listens, for messages. */
  readonly owner: string;
  /** Spec path of the setting that chose the port, when the user can change it. */
  readonly path?: readonly (string | number)[];
}

/** What a change of a file owes the service that reads it. */
export type OnChange = "restart" | "reload" | "nothing";

/** A file a service needs on a host. */
export interface ServiceFile {
  readonly path: string;
  readonly content: Content;
  readonly mode: number;
  /** Default: restart. */
  readonly onChange?: OnChange;
}

/** Things built or fetched on the operator's machine that go to hosts. */
export interface Artifacts {
  /** etcd and etcdctl when they do not come from the distribution's package. */
  readonly etcd?: EtcdProgramFiles;
  /** The self-contained agent and stand-in executable. */
  readonly nodeBinary: LocalFile;
  /** The Kubernetes release binaries by name, when they do not come from the lab's stand-ins. */
  readonly kubernetes?: ReadonlyMap<string, LocalFile>;
  /** containerd, runc and the CNI plugins, when they do not come from the distribution's packages. */
  readonly runtime?: RuntimeFiles;
}

/**
 * How changes reach running instances: `rolling`, one host at a time, each
 * ready again before the next; `parallel`, every host at once; `own`, by
 * phases of its own (etcd: a new cluster starts together, members join
 * through learners, restarts wait for the whole quorum).
 */
export type Rollout = "rolling" | "parallel" | "own";

/** One host service. */
export interface HostService {
  /** Short name, used for owed restarts: "etcd", "agent". */
  readonly name: string;
  /** Which hosts run it. */
  hosts(cluster: Cluster): readonly Host[];
  /** What it listens on, on `host`. */
  listeners(cluster: Cluster, host: Host): readonly Listener[];
  /** Its systemd unit when kubeha deploys it for this cluster; absent for a component still to come. */
  unit(cluster: Cluster): string | undefined;
  /** The files it needs on `host`. */
  files(cluster: Cluster, host: Host, artifacts: Artifacts): readonly ServiceFile[];
  /** PKI files it reads (relative to /etc/kubernetes, see core/host-paths.ts): a change restarts it. */
  certificates(cluster: Cluster, host: Host): readonly string[];
  /** A command that exits 0 on `host` once the service is ready. */
  readiness(cluster: Cluster, host: Host): string;
  readonly rollout: Rollout;
  /** A rolling service: how long after it is ready again before the next host changes (load balancers notice it). */
  readonly settleMs?: number;
}

/** The service action a file change owes: `agent` (restart) or `agent-reload`. */
export const owedAction = (service: HostService, onChange: "restart" | "reload") =>
  onChange === "reload" ? `${service.name}-reload` : service.name;
