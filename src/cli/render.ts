/** `kubeha render`: every file `up` would put on each host, under DIR/<host>/, for review or version control. */
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { render } from "../actions/render.js";
import { stateDirFor } from "../core/state-dir.js";
import { loadCluster } from "../plan/load.js";
import { specOption } from "./options.js";
import { consoleReporter } from "./up.js";

export function registerRender(program: Command): void {
  program
    .command("render")
    .description(
      "write every file `up` would put on each host (units, configs, certificates) under DIR/<host>/ at its host path, and the add-ons under DIR/addons/; private keys only with --include-secrets; changes nothing",
    )
    .addOption(specOption())
    .requiredOption("--out <dir>", "where to write DIR/<host>/...")
    .option("--host <name>", "only this host")
    .option("--include-secrets", "also write private keys, kubeconfigs and the Secrets encryption key (0600)")
    .option("--state <dir>", "state directory whose PKI to use (default: <spec dir>/<cluster name>.kubeha)")
    .action(
      async (opts: {
        file: string;
        out: string;
        host?: string;
        includeSecrets?: boolean;
        state?: string;
      }) => {
        const { cluster } = loadCluster(opts.file);
        const hosts = await render(
          cluster,
          stateDirFor(opts.file, cluster.name, opts.state),
          resolve(opts.out),
          {
            specDir: dirname(resolve(opts.file)),
            specFile: resolve(opts.file),
            ...(opts.host && { host: opts.host }),
            includeSecrets: Boolean(opts.includeSecrets),
          },
          consoleReporter,
        );
        const files = hosts.reduce((n, h) => n + h.written, 0);
        process.stdout.write(
          `\nwrote ${files} files for ${hosts.length} host${hosts.length === 1 ? "" : "s"} under ${resolve(opts.out)}\n`,
        );
      },
    );
}
