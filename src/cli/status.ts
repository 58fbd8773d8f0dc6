/** `kubeha status`: every HA component live, read from each host directly; exit 0 healthy, 1 degraded, 2 down. */
import type { Command } from "commander";
import { StatusSession } from "../actions/status.js";
import { UsageError } from "../core/errors.js";
import { stateDirFor } from "../core/state-dir.js";
import { sleep } from "../core/wait.js";
import { loadCluster } from "../plan/load.js";
import { formatStatus } from "../status/format.js";
import { outputOption, specOption } from "./options.js";

export function registerStatus(program: Command): void {
  program
    .command("status")
    .description(
      "read every etcd member, apiserver, agent and VIP directly (never only through a VIP) and judge each capability: exit 0 healthy, 1 degraded, 2 down",
    )
    .addOption(specOption())
    .addOption(outputOption())
    .option("--state <dir>", "state directory (default: <spec dir>/<cluster name>.kubeha)")
    .option("--hashkv", "also compare the etcd members' key-space hashes at one revision")
    .option("--watch [seconds]", "refresh every so many seconds (default 2) until interrupted")
    .action(
      async (opts: {
        file: string;
        output: "text" | "json";
        state?: string;
        hashkv?: boolean;
        watch?: string | true;
      }) => {
        const every = opts.watch === undefined ? 0 : opts.watch === true ? 2 : Number(opts.watch);
        if (!Number.isFinite(every) || every < 0) throw new UsageError("--watch takes a number of seconds");
        const { cluster } = loadCluster(opts.file);
        const session = new StatusSession(cluster, stateDirFor(opts.file, cluster.name, opts.state), {
          hashKv: Boolean(opts.hashkv),
        });
        let interrupted = false;
        const stop = () => {
          interrupted = true;
        };
        process.once("SIGINT", stop);
        try {
          for (;;) {
            const report = await session.round();
            const text =
              opts.output === "json" ? `${JSON.stringify(report, null, 2)}\n` : formatStatus(report);
            // clear the terminal between rounds when watching
            process.stdout.write(every > 0 && process.stdout.isTTY ? `\x1b[2J\x1b[H${text}` : text);
            process.exitCode = report.exitCode;
            if (every === 0 || interrupted) break;
            const until = Date.now() + every * 1000;
            while (!interrupted && Date.now() < until) await sleep(100);
            if (interrupted) break;
          }
        } finally {
          process.off("SIGINT", stop);
          await session.close();
        }
      },
    );
}
