/** `kubeha drill`: inject a fault while clients record what they see; or power off every host in turn and check plan. */
import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { type Command, Option } from "commander";
import { drill, drillEachHost } from "../actions/drill.js";
import { ExitCode, UsageError } from "../core/errors.js";
import { stateDirFor } from "../core/state-dir.js";
import type { ClusterContext } from "../deploy/context.js";
import { FAULT_NAMES, type FaultName, hostsPlatform, labPlatform } from "../drill/faults.js";
import { formatAggregate, formatTrial } from "../drill/format.js";
import { Lab } from "../lab/lab.js";
import { loadCluster } from "../plan/load.js";
import { outputOption, specOption } from "./options.js";

const say = (line: string) => process.stderr.write(`drill: ${line}\n`);

interface DrillCliOptions {
  file: string;
  output: "text" | "json";
  state?: string;
  fault?: FaultName;
  target?: string;
  component?: string;
  trials: string;
  hold: string;
  force?: boolean;
  eachHost?: boolean;
  lab?: string;
  platform?: "lab" | "hosts";
}

export function registerDrill(program: Command): void {
  program
    .command("drill")
    .description(
      "inject a fault (power-off, partition, kill/freeze/stop of a component, etcd leader) while clients outside the failure domain record every request; report outage windows, a timeline and invariants; --each-host checks plan's predictions",
    )
    .addOption(specOption())
    .addOption(outputOption())
    .option("--state <dir>", "state directory (default: <spec dir>/<cluster name>.kubeha)")
    .addOption(new Option("--fault <fault>", "what to do to the target").choices([...FAULT_NAMES]))
    .option("--target <host>", "a host, api-vip-holder or ingress-vip-holder (etcd-leader finds its own)")
    .option("--component <name>", "for kill, freeze and stop: etcd, kube-apiserver, agent or ingress")
    .option("--trials <n>", "how many times", "1")
    .option("--hold <seconds>", "how long the fault stays on", "10")
    .option("--force", "drill even when status is not healthy or the fault would break a capability")
    .option(
      "--each-host",
      "power off (lab) or hard-stop (hosts) every host in turn and compare with plan --what-if",
    )
    .option("--lab <dir>", "the lab the spec's hosts are (default: the spec's directory when it holds one)")
    .addOption(new Option("--platform <kind>", "how host faults are made").choices(["lab", "hosts"]))
    .action(async (opts: DrillCliOptions) => {
      const trials = Number(opts.trials);
      const hold = Number(opts.hold);
      if (!Number.isInteger(trials) || trials < 1)
        throw new UsageError("--trials must be a whole number of at least 1");
      if (!Number.isFinite(hold) || hold < 1 || hold > 600)
        throw new UsageError("--hold must be 1 to 600 seconds");
      if (!opts.eachHost && !opts.fault)
        throw new UsageError("say --fault (or --each-host)", { hint: `faults: ${FAULT_NAMES.join(", ")}` });
      const { cluster } = loadCluster(opts.file);
      const stateDir = stateDirFor(opts.file, cluster.name, opts.state);
      const labDir = opts.lab ?? dirname(resolve(opts.file));
      const haveLab = existsSync(join(labDir, "lab.json"));
      if (opts.platform === "lab" && !haveLab)
        throw new UsageError(`no lab in ${labDir}`, { hint: "name it with --lab" });
      const kind = opts.platform ?? (haveLab ? "lab" : "hosts");
      const platform = (ctx: ClusterContext) =>
        kind === "lab" ? labPlatform(Lab.open(labDir)) : hostsPlatform(ctx, hold);
      const base = { holdSeconds: hold, force: Boolean(opts.force), platform, log: say };
      if (opts.eachHost) {
        const r = await drillEachHost(cluster, stateDir, base);
        if (opts.output === "json") process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
        else {
          for (const h of r.hosts) {
            process.stdout.write(`\n=== ${h.host} ===\n${formatTrial(h.trial)}`);
            for (const p of h.predictions)
              process.stdout.write(
                `  ${p.predicted === p.observed ? "ok  " : "FAIL"}  ${p.capability}: plan said ${p.predicted ? "survives" : "lost"}, ${p.evidence} ${p.observed ? "was served" : "was not served"} during the fault\n`,
              );
          }
          process.stdout.write(
            `\n${r.passed ? "every prediction held" : "SOME PREDICTIONS WERE WRONG"}; artifacts in ${r.artifacts}\n`,
          );
        }
        process.exitCode = r.passed ? ExitCode.ok : ExitCode.failure;
        return;
      }
      const r = await drill(cluster, stateDir, {
        ...base,
        fault: opts.fault as FaultName,
        ...(opts.target && { target: opts.target }),
        ...(opts.component && { component: opts.component }),
        trials,
      });
      if (opts.output === "json") process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      else {
        process.stdout.write(`${r.description}\n\n`);
        for (const t of r.trials) process.stdout.write(`${formatTrial(t)}\n`);
        process.stdout.write(`${formatAggregate(r.aggregate, r.budgets)}\nartifacts in ${r.artifacts}\n`);
      }
      process.exitCode = r.passed ? ExitCode.ok : ExitCode.failure;
    });
}
