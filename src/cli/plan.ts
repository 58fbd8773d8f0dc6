/** `kubeha plan`: topology, failure tolerance and what-if, without touching the network. */
import type { Command } from "commander";
import { formatPlan } from "../plan/format.js";
import { loadCluster } from "../plan/load.js";
import { buildPlan } from "../plan/plan.js";
import { outputOption, specOption } from "./options.js";

export function registerPlan(program: Command): void {
  program
    .command("plan")
    .description("show hosts, failure tolerance and single points of failure of a spec (no network)")
    .addOption(specOption())
    .addOption(outputOption())
    .option("--what-if <hosts>", "comma-separated hosts to consider lost; says which capabilities survive")
    .action((opts: { file: string; output: "text" | "json"; whatIf?: string }) => {
      const whatIf = opts.whatIf
        ?.split(",")
        .map((s) => s.trim())
        .filter(Boolean);
      const plan = buildPlan(loadCluster(opts.file), whatIf);
      process.stdout.write(opts.output === "json" ? `${JSON.stringify(plan, null, 2)}\n` : formatPlan(plan));
    });
}
