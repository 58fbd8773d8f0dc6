/** `kubeha lab ...`: real hosts on this machine for tests, drills, benchmarks and the default main job. */
import { spawnSync } from "node:child_process";
import { relative } from "node:path";
import type { Command } from "commander";
import { table } from "../core/table.js";
import { Lab } from "../lab/lab.js";
import { DEFAULT_LAB_HOSTS, labTopology, loadLabSpec } from "../lab/lab-spec.js";
import { sshArgs } from "../lab/ssh.js";

const DEFAULT_DIR = "./kubeha-lab";
const say = (line: string) => process.stderr.write(`lab: ${line}\n`);

interface DirOpts {
  dir: string;
}

export function registerLab(program: Command): void {
  const lab = program
    .command("lab")
    .description("real Debian hosts with systemd on this machine (systemd-nspawn), and faults for drills");
  const withDir = (cmd: Command) => cmd.option("--dir <dir>", "lab directory", DEFAULT_DIR);

  withDir(lab.command("up"))
    .description(
      "build (once) and boot the lab hosts; writes cluster.yaml, the SSH key and known_hosts into --dir",
    )
    .option("-f, --file <labspec>", "lab topology (default: cp1..cp3, w1..w2, edge1..edge2)")
    .action(async (opts: DirOpts & { file?: string }) => {
      const started = Date.now();
      const topology = opts.file ? loadLabSpec(opts.file) : labTopology(DEFAULT_LAB_HOSTS);
      const up = await Lab.up(opts.dir, topology, say);
      printStatus(up);
      const spec = relative(process.cwd(), `${up.dir}/cluster.yaml`) || "cluster.yaml";
      process.stdout.write(
        `\nlab up in ${((Date.now() - started) / 1000).toFixed(1)} s; its cluster spec: ${spec}\n` +
          `  kubeha plan -f ${spec}\n  kubeha lab ssh ${up.machines()[0]?.name} --dir ${opts.dir} -- hostname\n  kubeha lab down --dir ${opts.dir}\n`,
      );
    });

  withDir(lab.command("down"))
    .description(
      "power off every host and remove every process, mount, link, nftables table and file the lab made",
    )
    .action(async (opts: DirOpts) => {
      await Lab.down(opts.dir, say);
      process.stdout.write(`lab in ${opts.dir} is gone\n`);
    });

  withDir(lab.command("status"))
    .description("show each host: address, roles, running, partitioned")
    .action((opts: DirOpts) => printStatus(Lab.open(opts.dir)));

  withDir(lab.command("ssh"))
    .description("open a shell on HOST, or run CMD there (after --)")
    .argument("<host>", "lab host name")
    .argument("[cmd...]", "command to run")
    .action((host: string, cmd: string[], opts: DirOpts) => {
      const l = Lab.open(opts.dir);
      const args = sshArgs(l.dir, l.host(host).address, cmd.length === 0 ? ["-t"] : []);
      const r = spawnSync("ssh", [...args, ...cmd], { stdio: "inherit" });
      process.exitCode = r.status ?? 255;
    });

  const fault = (
    name: string,
    description: string,
    act: (l: Lab, host: string) => Promise<void> | void,
    done: string,
  ) =>
    withDir(lab.command(name))
      .description(description)
      .argument("<host>", "lab host name")
      .action(async (host: string, opts: DirOpts) => {
        await act(Lab.open(opts.dir), host);
        process.stdout.write(`${host}: ${done}\n`);
      });
  fault("kill", "hard power-off of HOST, as if unplugged", (l, h) => l.kill(h), "powered off");
  fault("stop", "clean shutdown of HOST", (l, h) => l.stop(h), "shut down");
  fault("start", "boot HOST again (same disk, key and address) and wait for SSH", (l, h) => l.start(h), "up");
  fault(
    "partition",
    "cut HOST off from every other lab host (the operator keeps its SSH path)",
    (l, h) => l.partition(h),
    "partitioned",
  );

  withDir(lab.command("heal"))
    .description("reconnect HOST, or every partitioned host")
    .argument("[host]", "lab host name")
    .action((host: string | undefined, opts: DirOpts) => {
      Lab.open(opts.dir).heal(host);
      process.stdout.write(`${host ?? "every host"}: healed\n`);
    });
}

function printStatus(l: Lab): void {
  const rows = l
    .status()
    .map((s) => [
      s.name,
      s.address,
      s.roles.join(","),
      s.running ? "running" : "off",
      s.partitioned ? "partitioned" : "-",
    ]);
  process.stdout.write(`${table([["HOST", "ADDRESS", "ROLES", "STATE", "NETWORK"], ...rows])}\n`);
}
