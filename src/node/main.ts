/**
 * Entry point of the self-contained host executable (`kubeha-node`): the
 * daemons kubeha runs on hosts, without the operator CLI, so it bundles
 * small and needs no Node.js on the host.
 * `kubeha-node agent --config FILE`, `kubeha-node standin --config FILE`.
 */
import { logJson } from "../agent/agent.js";
import { runDaemon } from "./daemon.js";

// gRPC names etcd members by IP address, which Node flags once per process as DEP0123; nothing to act on
process.noDeprecation = true;

// argv[0] is the executable; argv[1] the script, or the executable again in a single executable application
const [command, flag, file] = process.argv.slice(2);

if ((command !== "agent" && command !== "standin") || flag !== "--config" || !file) {
  process.stderr.write("usage: kubeha-node agent|standin --config FILE\n");
  process.exit(2);
}
runDaemon(command, file).then(
  () => process.exit(0),
  (err: unknown) => {
    logJson({ kind: "fatal", error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  },
);
