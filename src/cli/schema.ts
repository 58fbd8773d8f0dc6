/** `kubeha schema`: prints the JSON Schema of the spec, for editors and CI. */
import type { Command } from "commander";
import { clusterJsonSchema } from "../spec/json-schema.js";

export function registerSchema(program: Command): void {
  program
    .command("schema")
    .description("print the JSON Schema of the cluster spec")
    .action(() => {
      process.stdout.write(clusterJsonSchema());
    });
}
