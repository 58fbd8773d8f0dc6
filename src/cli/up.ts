/** `kubeha up`: deploy the spec onto its hosts over SSH, changing only what differs. */
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { up } from "../actions/up.js";
import { UsageError } from "../core/errors.js";
import { stateDirFor } from "../core/state-dir.js";
import { API_CHANGE, type Reporter } from "../deploy/context.js";
import { loadCluster } from "../plan/load.js";
import { specOption } from "./options.js";

/** Progress as operators like it: a header per phase, a line per host. */
export const consoleReporter: Reporter = {
  phase: (title) => process.stdout.write(`\n==> ${title}\n`),
  host: (host, line) => process.stdout.write(`  ${host.padEnd(12)} ${line}\n`),
  info: (line) => process.stdout.write(`  ${line}\n`),
};

export function registerUp(program: Command): void {
  program
    .command("up")
    .description(
      "deploy the cluster in the spec onto its hosts (PKI, etcd, the control plane, agents, every host a node, then the add-ons through the API); idempotent, refusals before any change, --dry-run shows what would change",
    )
    .addOption(specOption())
    .option("--state <dir>", "state directory (default: <spec dir>/<cluster name>.kubeha)")
    .option("--dry-run", "print what would change on each host, change nothing")
    .option("--concurrency <n>", "hosts worked on at once", "10")
    .option("--allow-member-removal", "remove etcd members that are no longer in the spec")
    .option("--verify", "hash every file on the hosts, trusting no recorded digest of a large file")
    .action(
      async (opts: {
        file: string;
        state?: string;
        dryRun?: boolean;
        concurrency: string;
        allowMemberRemoval?: boolean;
        verify?: boolean;
      }) => {
        const concurrency = Number(opts.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1)
          throw new UsageError("--concurrency must be a whole number of at least 1");
        const { cluster } = loadCluster(opts.file);
        const result = await up(
          cluster,
          stateDirFor(opts.file, cluster.name, opts.state),
          {
            dryRun: Boolean(opts.dryRun),
            concurrency,
            allowMemberRemoval: Boolean(opts.allowMemberRemoval),
            verify: Boolean(opts.verify),
            specDir: dirname(resolve(opts.file)),
            specFile: resolve(opts.file),
          },
          consoleReporter,
        );
        const onHosts = result.changes.filter((c) => c.host !== API_CHANGE);
        const hosts = new Set(onHosts.map((c) => c.host)).size;
        const api = result.changes.length - onHosts.length;
        const n = result.changes.length;
        const verb = opts.dryRun ? "would change" : "changed";
        const where = [
          ...(hosts > 0 ? [`on ${hosts} host${hosts === 1 ? "" : "s"}`] : []),
          ...(api > 0 ? [`${api} through the API`] : []),
        ].join(", ");
        process.stdout.write(
          `\n${n === 0 ? "0 changes: every host matches the spec" : `${verb} ${n} thing${n === 1 ? "" : "s"} ${where}`} (${result.seconds.toFixed(1)} s)\n`,
        );
      },
    );
}
