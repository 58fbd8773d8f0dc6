/**
 * `kubeha status`: one read-only round over every host (status/observe.ts),
 * judged by status/assess.ts. A StatusSession keeps its SSH connections
 * between rounds (`--watch`), reconnecting hosts that were out of reach.
 */
import { join } from "node:path";
import { type ClusterContext, type Connector, readOnlyContext } from "../deploy/context.js";
import { operatorEtcdClient } from "../etcd/operator-client.js";
import type { Cluster } from "../spec/defaults.js";
import { assess } from "../status/assess.js";
import type { ObserveOptions } from "../status/observation.js";
import { observe } from "../status/observe.js";
import type { StatusReport } from "../status/report.js";
import { connectSsh } from "../transport/ssh.js";

/** How long connecting to one host may take: status never waits long for a host that is down. */
const CONNECT_TIMEOUT_MS = 3000;

/** SSH with a short connect timeout; host keys pinned as `up` pins them. */
export const statusConnector: Connector = (host, ctx) =>
  connectSsh(host, {
    stateKnownHosts: join(ctx.stateDir, "known_hosts"),
    connectTimeoutMs: CONNECT_TIMEOUT_MS,
  });

export class StatusSession {
  private readonly ctx: ClusterContext;
  private readonly options: ObserveOptions;

  constructor(cluster: Cluster, stateDir: string, options: ObserveOptions = {}, connect = statusConnector) {
    const etcd = operatorEtcdClient(cluster, stateDir);
    this.options = { ...options, ...(etcd && { etcd }) };
    this.ctx = readOnlyContext(cluster, stateDir, connect);
  }

  /** One round: what every host says now, judged. */
  async round(): Promise<StatusReport> {
    return assess(this.ctx.cluster, await observe(this.ctx, this.options));
  }

  async close(): Promise<void> {
    this.options.etcd?.close();
    await Promise.all(this.ctx.hosts.map((h) => h.transport?.close()));
  }
}

/** One status round with its own connections. */
export async function clusterStatus(
  cluster: Cluster,
  stateDir: string,
  options: ObserveOptions = {},
): Promise<StatusReport> {
  const session = new StatusSession(cluster, stateDir, options);
  try {
    return await session.round();
  } finally {
    await session.close();
  }
}
