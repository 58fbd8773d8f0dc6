/**
 * Running a host daemon until it is told to stop: the agent (from its
 * config file, reloading on SIGHUP) or a lab stand-in (from the real
 * component's command line), stopping cleanly on SIGTERM or SIGINT. Shared
 * by the operator CLI (`kubeha agent`) and the self-contained host
 * executable (`kubeha-node`).
 */

import { logJson, startAgent } from "../agent/agent.js";
import { startApiserverStandin } from "../standin/apiserver.js";
import type { CommandLine } from "../standin/command-line.js";
import { startComponentStandin } from "../standin/component.js";
import { startKubeletStandin, startKubeProxyStandin } from "../standin/node.js";

/** Runs the agent from `file`, or the stand-in of a command line; resolves once it has stopped after a signal. */
export async function runDaemon(what: { agent: string } | { standin: CommandLine }): Promise<void> {
  let stop: () => Promise<void>;
  if ("agent" in what) {
    const agent = await startAgent(what.agent);
    process.on("SIGHUP", agent.reload);
    stop = agent.stop;
  } else {
    const cl = what.standin;
    const start =
      cl.component === "kube-apiserver"
        ? startApiserverStandin
        : cl.component === "kubelet"
          ? startKubeletStandin
          : cl.component === "kube-proxy"
            ? startKubeProxyStandin
            : startComponentStandin;
    stop = (await start(cl)).shutdown;
  }
  await new Promise<void>((resolve) => {
    const bye = (signal: string) => {
      logJson({ kind: "stopping", signal });
      void stop().then(resolve);
    };
    process.once("SIGTERM", () => bye("SIGTERM"));
    process.once("SIGINT", () => bye("SIGINT"));
  });
}
