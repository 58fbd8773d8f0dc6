/**
 * `kubeha agent`: the per-host daemon: its L4 load balancer, the VIP
 * managers (on etcd; the API VIP gated by its frontend's health, the ingress
 * VIPs on an edge by the local ingress controller's, edge.ts) and metrics. It logs
 * one JSON object per line (journald keeps them), reloads backends on SIGHUP
 * or when its config file changes, and on SIGTERM lets go of its VIPs first,
 * then closes its listeners and exits.
 */
import { unwatchFile, watchFile } from "node:fs";
import type { Server } from "node:http";
import { EtcdClient, readEtcdTls } from "../etcd/client.js";
import { readAgentConfig } from "./config.js";
import { EdgeCoordinator } from "./edge.js";
import { Frontend } from "./lb/frontend.js";
import { renderMetrics, serveMetrics, vipMetrics } from "./metrics.js";
import { agentState } from "./state.js";
import { interfaceOf, ipAddressOps } from "./vip/address.js";
import { LeaderAvoidance } from "./vip/leader.js";
import { VipManager } from "./vip/manager.js";
import { combine } from "./vip/placement.js";

/** A running agent. */
export interface RunningAgent {
  readonly frontends: readonly Frontend[];
  readonly vips: readonly VipManager[];
  reload(): void;
  stop(): Promise<void>;
}

/** One log line as JSON. */
export const logJson = (event: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...event })}\n`);

/** Starts the agent from its config file. */
export async function startAgent(
  file: string,
  log: (e: Record<string, unknown>) => void = logJson,
): Promise<RunningAgent> {
  const config = readAgentConfig(file);
  const frontends = config.frontends.map((f) => new Frontend(f, (e) => log({ frontend: f.name, ...e })));
  await Promise.all(frontends.map((f) => f.start()));
  const etcd =
    config.etcd && (config.vips.length > 0 || config.ingress)
      ? new EtcdClient(config.etcd.endpoints, readEtcdTls(config.etcd))
      : undefined;
  const ownMember = new URL(config.etcd?.endpoints[0] ?? "https://none").hostname === config.address;
  const dev = etcd ? await interfaceOf(config.address as string) : "";
  const vips: VipManager[] = [];
  for (const v of config.vips) {
    const frontend = frontends.find((f) => f.config.name === v.frontend) as Frontend;
    vips.push(
      new VipManager(v, {
        etcd: etcd as EtcdClient,
        host: config.host,
        ops: ipAddressOps(v.address, dev),
        healthy: () => frontend.healthy,
        ownMember,
        log,
      }),
    );
  }
  const edge =
    config.ingress &&
    new EdgeCoordinator(config.ingress, { etcd: etcd as EtcdClient, host: config.host, log });
  config.ingress?.vips.forEach((v, i) => {
    const e = edge as EdgeCoordinator;
    vips.push(
      new VipManager(v, {
        etcd: etcd as EtcdClient,
        host: config.host,
        ops: ipAddressOps(v.address, dev),
        healthy: () => e.isServing,
        placement: combine(new LeaderAvoidance(etcd as EtcdClient, ownMember), e.placement(i)),
        log,
      }),
    );
  });
  await edge?.start();
  await Promise.all(vips.map((m) => m.start()));
  const metrics: Server = await serveMetrics(
    config.metricsPort,
    () => renderMetrics(frontends, [() => vipMetrics(vips), () => edge?.metrics() ?? []]),
    () => agentState(config.host, frontends, vips, edge),
  );
  log({
    kind: "started",
    host: config.host,
    frontends: config.frontends.map((f) => `${f.name} ${f.listen} -> ${f.backends.join(",")}`),
    vips: [
      ...config.vips.map(
        (v) => `${v.name} ${v.address} (lease ${v.leaseTtlSeconds} s, gated by ${v.frontend})`,
      ),
      ...(config.ingress?.vips ?? []).map(
        (v) =>
          `${v.name} ${v.address} (lease ${v.leaseTtlSeconds} s, gated by ${config.ingress?.controller.url})`,
      ),
    ],
  });

  const reload = () => {
    try {
      const next = readAgentConfig(file);
      for (const f of frontends) {
        const wanted = next.frontends.find((n) => n.name === f.config.name);
        if (
          wanted &&
          wanted.backends.join() !==
            f.backends
              .filter((b) => !b.removed)
              .map((b) => b.endpoint)
              .join()
        ) {
          f.setBackends(wanted.backends);
        }
      }
    } catch (err) {
      log({ kind: "reload-refused", reason: (err as Error).message, keeping: "the last good configuration" });
    }
  };
  watchFile(file, { interval: 1000 }, reload);
  return {
    frontends,
    vips,
    reload,
    stop: async () => {
      unwatchFile(file);
      await edge?.leave(); // counted out first, so its ingress VIPs go straight to the other edges
      await Promise.all(vips.map((m) => m.stop()));
      etcd?.close();
      await Promise.all(frontends.map((f) => f.stop()));
      await new Promise<void>((r) => metrics.close(() => r()));
    },
  };
}
