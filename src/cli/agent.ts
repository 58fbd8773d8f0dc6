/** `kubeha agent`: the daemon kubeha runs on every host, as a systemd service (the hosts run it from kubeha-node). */
import type { Command } from "commander";
import { runDaemon } from "../node/daemon.js";

export function registerDaemons(program: Command): void {
  program
    .command("agent")
    .description(
      "run the host agent: L4 load balancer with health checks, Prometheus metrics (a systemd service on every host)",
    )
    .requiredOption("--config <file>", "the agent config kubeha up rendered for this host")
    .action((opts: { config: string }) => runDaemon({ agent: opts.config }));
}
