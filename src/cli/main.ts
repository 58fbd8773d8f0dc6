/** The kubeha command line: one file per command, each registered here. */
import { Command } from "commander";
import { version } from "../core/package-info.js";
import { registerDaemons } from "./agent.js";
import { registerDrill } from "./drill.js";
import { registerEtcd } from "./etcd.js";
import { registerImport } from "./import.js";
import { registerInit } from "./init.js";
import { registerLab } from "./lab.js";
import { registerPki } from "./pki.js";
import { registerPlan } from "./plan.js";
import { registerRender } from "./render.js";
import { runCli } from "./run.js";
import { registerSchema } from "./schema.js";
import { registerStatus } from "./status.js";
import { registerUp } from "./up.js";

/** Builds the program with every command. */
export function buildProgram(): Command {
  const program = new Command("kubeha")
    .description("Build, operate and prove highly available Kubernetes clusters on bare metal from one spec")
    .version(version, "-V, --version", "print the kubeha version")
    .helpOption("-h, --help", "show help for a command")
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride();
  registerInit(program);
  registerPlan(program);
  registerImport(program);
  registerPki(program);
  registerLab(program);
  registerUp(program);
  registerStatus(program);
  registerDrill(program);
  registerEtcd(program);
  registerRender(program);
  registerDaemons(program);
  registerSchema(program);
  return program;
}

// grpc-js names the etcd member's address as the TLS server name, which Node flags as deprecated
// (RFC 6066) on every connection; the certificates carry the addresses, so the warning says nothing
process.noDeprecation = true;

await runCli(async () => {
  await buildProgram().parseAsync(process.argv);
});
