/** `kubeha agent` and `kubeha standin`: the daemons kubeha runs on the hosts, as systemd services. */
import type { Command } from "commander";
import { logJson, startAgent } from "../agent/agent.js";
import { startStandin } from "../standin/standin.js";

/** Runs until SIGTERM or SIGINT, reloading on SIGHUP when `reload` is given. */
function untilSignalled(stop: () => Promise<void>, reload?: () => void): Promise<void> {
  return new Promise((resolve) => {
    if (reload) process.on("SIGHUP", reload);
    const bye = (signal: string) => {
      logJson({ kind: "stopping", signal });
      void stop().then(resolve);
    };
    process.once("SIGTERM", () => bye("SIGTERM"));
    process.once("SIGINT", () => bye("SIGINT"));
  });
}

export function registerDaemons(program: Command): void {
  program
    .command("agent")
    .description(
      "run the host agent: L4 load balancer with health checks, Prometheus metrics (a systemd service on every host)",
    )
    .requiredOption("--config <file>", "the agent config kubeha up rendered for this host")
    .action(async (opts: { config: string }) => {
      const agent = await startAgent(opts.config);
      await untilSignalled(agent.stop, agent.reload);
    });
  program
    .command("standin")
    .description(
      "run the apiserver STAND-IN of the lab (TLS, /readyz backed by an etcd read, /livez, /version, /watch); not Kubernetes",
    )
    .requiredOption("--config <file>", "the stand-in config kubeha up rendered for this host")
    .action(async (opts: { config: string }) => {
      const standin = await startStandin(opts.config);
      await untilSignalled(standin.shutdown);
    });
}
