/** `kubeha import rke`: converts an RKE1 cluster.yml into a kubeha spec. */
import { readFileSync, writeFileSync } from "node:fs";
import type { Command } from "commander";
import { stringify } from "yaml";
import { SpecError, UsageError } from "../core/errors.js";
import { importRke } from "../import/rke.js";
import { loadClusterText } from "../plan/load.js";

export function registerImport(program: Command): void {
  const cmd = program.command("import").description("convert another tool's cluster file into a kubeha spec");
  cmd
    .command("rke")
    .description("convert an RKE1 cluster.yml; what cannot be carried over is listed, never dropped silently")
    .argument("<cluster.yml>", "the RKE cluster file")
    .option("-o, --out <file>", "write the kubeha spec here instead of standard output")
    .action((file: string, opts: { out?: string }) => {
      let text: string;
      try {
        text = readFileSync(file, "utf8");
      } catch (cause) {
        throw new UsageError(`cannot read ${file}: ${(cause as NodeJS.ErrnoException).code ?? cause}`, {
          cause,
        });
      }
      let result: ReturnType<typeof importRke>;
      try {
        result = importRke(text);
      } catch (cause) {
        throw new UsageError(`${file}: ${(cause as Error).message}`, {
          cause,
          hint: "pass an RKE1 cluster.yml",
        });
      }
      const yaml = `# Imported from ${file} by kubeha import rke; check with: kubeha plan -f THIS_FILE\n${stringify(result.spec)}`;
      if (opts.out) writeFileSync(opts.out, yaml);
      else process.stdout.write(yaml);
      for (const w of result.warnings) process.stderr.write(`warning: ${w}\n`);
      try {
        loadClusterText(yaml, opts.out ?? "<stdout>");
      } catch (err) {
        if (err instanceof SpecError) {
          throw new SpecError(
            err.file,
            err.issues,
            "the imported spec needs the edits listed above before kubeha can use it",
          );
        }
        throw err;
      }
      if (opts.out) process.stderr.write(`wrote ${opts.out}; check it with: kubeha plan -f ${opts.out}\n`);
    });
}
