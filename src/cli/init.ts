/** `kubeha init`: writes a commented example spec that editors can check against the schema. */
import { existsSync, writeFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { UsageError } from "../core/errors.js";
import { packageRoot } from "../core/package-info.js";
import { exampleSpec } from "../spec/example.js";
import { SCHEMA_FILE } from "../spec/json-schema.js";

export function registerInit(program: Command): void {
  program
    .command("init")
    .description("write a commented example cluster spec")
    .option("-o, --out <file>", "where to write it ('-' for standard output)", "cluster.yaml")
    .option("--force", "overwrite an existing file")
    .action((opts: { out: string; force?: boolean }) => {
      const schema = fileURLToPath(new URL(SCHEMA_FILE, packageRoot));
      if (opts.out === "-") {
        process.stdout.write(exampleSpec(schema));
        return;
      }
      if (existsSync(opts.out) && !opts.force) {
        throw new UsageError(`${opts.out} exists already`, {
          hint: "pass --force to overwrite it, or -o another file",
        });
      }
      const ref = relative(dirname(resolve(opts.out)), schema);
      writeFileSync(opts.out, exampleSpec(ref), { flag: "w" });
      process.stdout.write(`wrote ${opts.out}; check it with: kubeha plan -f ${opts.out}\n`);
    });
}
