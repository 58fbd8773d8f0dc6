/**
 * Entry point of the self-contained host executable (`kubeha-node`): the
 * daemons kubeha runs on hosts, without the operator CLI, so it bundles
 * small and needs no Node.js on the host.
 * `kubeha-node agent --config FILE`; in the lab, `kubeha-node kube-apiserver
 * FLAGS...` (and kube-controller-manager, kube-scheduler, kubelet,
 * kube-proxy), run through the
 * wrappers at /usr/local/bin/<name> with the real component's flags.
 */
import { logJson } from "../agent/agent.js";
import { parseCommandLine, STANDIN_COMPONENTS, type StandinComponent } from "../standin/command-line.js";
import { runDaemon } from "./daemon.js";

// gRPC names etcd members by IP address, which Node flags once per process as DEP0123; nothing to act on
process.noDeprecation = true;

// argv[0] is the executable; argv[1] the script, or the executable again in a single executable application
const [command = "", ...rest] = process.argv.slice(2);

function fail(message: string, code = 1): never {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(code);
}

let what: Parameters<typeof runDaemon>[0];
if (command === "agent" && rest[0] === "--config" && rest[1]) {
  what = { agent: rest[1] };
} else if ((STANDIN_COMPONENTS as readonly string[]).includes(command)) {
  try {
    what = { standin: parseCommandLine(command as StandinComponent, rest, process.env) };
  } catch (err) {
    fail(
      `${(err as Error).message}\nSee '${command} --help' (kubeha STAND-IN: the real binary's flags only)`,
    );
  }
} else {
  fail(`usage: kubeha-node agent --config FILE | kubeha-node ${STANDIN_COMPONENTS.join("|")} FLAGS...`, 2);
}
runDaemon(what).then(
  () => process.exit(0),
  (err: unknown) => {
    logJson({ kind: "fatal", error: err instanceof Error ? err.message : String(err) });
    process.exit(1);
  },
);
