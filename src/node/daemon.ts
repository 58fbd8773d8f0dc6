/**
 * Running a host daemon until it is told to stop: the agent or the
 * apiserver stand-in, started from its config file, reloading on SIGHUP
 * (agent), stopping cleanly on SIGTERM or SIGINT. Shared by the operator CLI
 * (`kubeha agent`) and the self-contained host executable (`kubeha-node agent`).
 */

import { logJson, startAgent } from "../agent/agent.js";
import { startStandin } from "../standin/standin.js";

/** Runs daemon `kind` from `file`; resolves once it has stopped after a signal. */
export async function runDaemon(kind: "agent" | "standin", file: string): Promise<void> {
  let stop: () => Promise<void>;
  if (kind === "agent") {
    const agent = await startAgent(file);
    process.on("SIGHUP", agent.reload);
    stop = agent.stop;
  } else {
    stop = (await startStandin(file)).shutdown;
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
