/**
 * `kubeha agent`: the per-host daemon. For now its L4 load balancer and
 * metrics; the VIP manager joins it in the next issue. It logs one JSON
 * object per line (journald keeps them), reloads backends on SIGHUP or when
 * its config file changes, and on SIGTERM closes its listeners and exits.
 */
import { unwatchFile, watchFile } from "node:fs";
import type { Server } from "node:http";
import { readAgentConfig } from "./config.js";
import { Frontend } from "./lb/frontend.js";
import { renderMetrics, serveMetrics } from "./metrics.js";

/** A running agent. */
export interface RunningAgent {
  readonly frontends: readonly Frontend[];
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
  const metrics: Server = await serveMetrics(config.metricsPort, () => renderMetrics(frontends));
  log({
    kind: "started",
    host: config.host,
    frontends: config.frontends.map((f) => `${f.name} ${f.listen} -> ${f.backends.join(",")}`),
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
    reload,
    stop: async () => {
      unwatchFile(file);
      await Promise.all(frontends.map((f) => f.stop()));
      await new Promise<void>((r) => metrics.close(() => r()));
    },
  };
}
