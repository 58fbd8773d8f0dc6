/**
 * Entry point of the self-contained host binary (`kubeha-node`): the daemons
 * kubeha runs on hosts, without the operator CLI, so it bundles small and
 * needs no Node.js on the host. `kubeha-node agent --config F`,
 * `kubeha-node standin --config F`.
 */
import { startStandin } from "../standin/standin.js";
import { logJson, startAgent } from "./agent.js";

// argv[0] is the executable; argv[1] is the script, or the executable again in a single executable application
const [command, flag, file] = process.argv.slice(2);

async function main(): Promise<void> {
  if ((command !== "agent" && command !== "standin") || flag !== "--config" || !file) {
    process.stderr.write("usage: kubeha-node agent|standin --config FILE\n");
    process.exit(2);
  }
  const daemon = command === "agent" ? await startAgent(file) : await startStandin(file);
  const stop = "stop" in daemon ? daemon.stop : daemon.shutdown;
  if ("reload" in daemon) process.on("SIGHUP", daemon.reload);
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.once(signal, () => {
      logJson({ kind: "stopping", signal });
      void stop().then(() => process.exit(0));
    });
  }
}

main().catch((err: unknown) => {
  logJson({ kind: "fatal", error: err instanceof Error ? err.message : String(err) });
  process.exit(1);
});
