/** `kubeha agent` and `kubeha standin`: the daemons kubeha runs on the hosts, as systemd services. */
import type { Command } from "commander";
import { runDaemon } from "../node/daemon.js";

export function registerDaemons(program: Command): void {
  program
    .command("agent")
    .description(
      "run the host agent: L4 load balancer with health checks, Prometheus metrics (a systemd service on every host)",
    )
    .requiredOption("--config <file>", "the agent config kubeha up rendered for this host")
    .action((opts: { config: string }) => runDaemon("agent", opts.config));
  program
    .command("standin")
    .description(
      "run the apiserver STAND-IN of the lab (TLS, /readyz backed by an etcd read, /livez, /version, /watch); not Kubernetes",
    )
    .requiredOption("--config <file>", "the stand-in config kubeha up rendered for this host")
    .action((opts: { config: string }) => runDaemon("standin", opts.config));
}
