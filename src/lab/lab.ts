/**
 * `kubeha lab`: real Debian hosts with systemd on this machine, on one
 * private bridge, reachable over SSH like real machines, with faults for
 * drills (power-off, clean stop, network partition). Everything it creates
 * is named from the lab directory (names.ts), so `down` finds all of it.
 */
import { existsSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { ExpectedExit, UsageError } from "../core/errors.js";
import { run, tryRun } from "../core/exec.js";
import { ensurePrivateDir } from "../core/files.js";
import { parseCidr } from "../core/ip.js";
import { findProcesses, waitExit } from "../core/proc.js";
import { loadSpecText } from "../spec/load.js";
import {
  boot,
  hostKey,
  hostPaths,
  initialise,
  isInitialised,
  mountRoot,
  mountsUnder,
  nspawnOf,
  powerOff,
  shutdown,
} from "./host.js";
import { ensureImage } from "./image.js";
import type { LabHost, LabTopology } from "./lab-spec.js";
import { labNames } from "./names.js";
import {
  bridgeDown,
  bridgeUp,
  checkRangeFree,
  cut,
  cutPorts,
  partitionTableDown,
  partitionTableUp,
  uncut,
} from "./network.js";
import { preflight } from "./preflight.js";
import { sshRun, waitForSsh } from "./ssh.js";

/** What lab.json records. */
interface LabState {
  readonly version: 1;
  readonly id: string;
  readonly image: string;
  readonly topology: LabTopology;
}

/** A host with its machine name. */
export interface LabMachine extends LabHost {
  readonly machine: string;
}

/** The live state of one host. */
export interface HostStatus {
  readonly name: string;
  readonly address: string;
  readonly roles: readonly string[];
  readonly running: boolean;
  readonly partitioned: boolean;
  readonly pid: number | null;
}

const STATE_FILE = "lab.json";
/** Files and folders of the lab directory that `down` removes; nothing else is touched. */
const OWNED = [
  STATE_FILE,
  "hosts",
  "logs",
  "id_ed25519",
  "id_ed25519.pub",
  "known_hosts",
  "cluster.yaml",
  "lab.kubeha",
];
const BOOT_TIMEOUT_MS = 90_000;

type Log = (line: string) => void;

/** A lab that exists (lab.json is there). */
export class Lab {
  readonly dir: string;
  private readonly state: LabState;

  private constructor(dir: string, state: LabState) {
    this.dir = dir;
    this.state = state;
  }

  /** Opens the lab in `dir`, or fails saying how to make one. */
  static open(dir: string): Lab {
    const names = labNames(dir);
    const file = join(names.dir, STATE_FILE);
    if (!existsSync(file)) {
      throw new UsageError(`no lab in ${names.dir}`, { hint: `run \`kubeha lab up --dir ${dir}\` first` });
    }
    return new Lab(names.dir, JSON.parse(readFileSync(file, "utf8")) as LabState);
  }

  /** Brings the lab up (or back up): bridge, hosts booted, SSH answering, cluster.yaml written. */
  static async up(dir: string, topology: LabTopology, log: Log): Promise<Lab> {
    preflight(log);
    const names = labNames(dir);
    const file = join(names.dir, STATE_FILE);
    if (existsSync(file)) {
      const existing = JSON.parse(readFileSync(file, "utf8")) as LabState;
      if (JSON.stringify(existing.topology) !== JSON.stringify(topology)) {
        throw new ExpectedExit(`a different lab already exists in ${names.dir}`, {
          code: "LAB_EXISTS",
          hint: `run \`kubeha lab down --dir ${dir}\` first, or pick another --dir`,
        });
      }
    }
    checkRangeFree(topology.cidr, names);
    const image = ensureImage(log);
    ensurePrivateDir(names.dir);
    const lab = new Lab(names.dir, { version: 1, id: names.id, image, topology });
    writeFileSync(file, `${JSON.stringify(lab.state, null, 2)}\n`);
    const key = join(names.dir, "id_ed25519");
    if (!existsSync(key))
      run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `kubeha-lab-${names.id}`, "-f", key]);

    bridgeUp(names, topology.bridgeAddress, parseCidr(topology.cidr)?.prefix ?? 24);
    if (tryRun("nft", ["list", "table", "bridge", names.table]).code !== 0) partitionTableUp(names);

    const authorized = readFileSync(`${key}.pub`, "utf8");
    const prefix = parseCidr(topology.cidr)?.prefix ?? 24;
    for (const host of lab.machines()) {
      const paths = hostPaths(names.dir, host.name);
      mountRoot(image, paths);
      if (!isInitialised(paths)) initialise(paths, host, prefix, topology.hosts, authorized);
      if (!nspawnOf(host.machine)) boot(paths, host, host.machine, names.bridge);
    }
    lab.writeKnownHosts();
    await Promise.all(lab.machines().map((h) => lab.waitReady(h)));
    lab.writeClusterSpec();
    return lab;
  }

  /** Removes everything the lab in `dir` made, even after a failed `up`; safe to run twice. */
  static async down(dir: string, log: Log): Promise<void> {
    const names = labNames(dir);
    const machines = findProcesses(
      (p) =>
        p.argv[0]?.endsWith("systemd-nspawn") === true &&
        p.argv.some((a) => a.startsWith(`--machine=kh${names.id}h`)),
    );
    await Promise.all(
      machines.map(async (p) => {
        await powerOff(p.argv.find((a) => a.startsWith("--machine="))?.slice("--machine=".length) ?? "");
        await waitExit(p.pid, 5000);
      }),
    );
    if (machines.length > 0) log(`powered off ${machines.length} hosts`);
    for (const point of mountsUnder(names.dir)) {
      if (tryRun("umount", [point]).code !== 0) run("umount", ["-l", point]);
    }
    bridgeDown(names);
    partitionTableDown(names);
    if (existsSync(names.dir)) {
      for (const entry of OWNED) rmSync(join(names.dir, entry), { recursive: true, force: true });
      if (readdirSync(names.dir).length === 0) rmdirSync(names.dir);
    }
  }

  /** Hosts with their machine names. */
  machines(): LabMachine[] {
    const names = labNames(this.dir);
    return this.state.topology.hosts.map((h, i) => ({ ...h, machine: names.machine(i + 1) }));
  }

  get topology(): LabTopology {
    return this.state.topology;
  }

  /** The host called `name`, or a usage error listing the lab's hosts. */
  host(name: string): LabMachine {
    const host = this.machines().find((h) => h.name === name);
    if (!host) {
      throw new UsageError(`no host ${name} in this lab`, {
        hint: `hosts: ${this.machines()
          .map((h) => h.name)
          .join(", ")}`,
      });
    }
    return host;
  }

  /** The live state of every host. */
  status(): HostStatus[] {
    const names = labNames(this.dir);
    const cutOff = cutPorts(names);
    return this.machines().map((h) => {
      const nspawn = nspawnOf(h.machine);
      return {
        name: h.name,
        address: h.address,
        roles: h.roles,
        running: nspawn !== undefined,
        partitioned: cutOff.includes(names.veth(h.machine)),
        pid: nspawn?.pid ?? null,
      };
    });
  }

  /** Runs `command` on host `name` over SSH. */
  ssh(name: string, command: string, timeoutMs?: number) {
    return sshRun(this.dir, this.host(name).address, command, timeoutMs);
  }

  /** Hard power-off, as if unplugged. */
  async kill(name: string): Promise<void> {
    if (!(await powerOff(this.host(name).machine)))
      throw new ExpectedExit(`${name} is not running`, { code: "HOST_DOWN" });
  }

  /** Clean shutdown. */
  async stop(name: string): Promise<void> {
    if (!(await shutdown(this.host(name).machine)))
      throw new ExpectedExit(`${name} is not running`, { code: "HOST_DOWN" });
  }

  /** Boots a stopped or killed host with its own disk, key and address, and waits until SSH answers. */
  async start(name: string): Promise<void> {
    const host = this.host(name);
    if (nspawnOf(host.machine)) throw new ExpectedExit(`${name} is running already`, { code: "HOST_UP" });
    const paths = hostPaths(this.dir, name);
    mountRoot(this.state.image, paths);
    boot(paths, host, host.machine, labNames(this.dir).bridge);
    await this.waitReady(host);
  }

  /** Cuts `name` off from every other lab host; the operator keeps its path to it. */
  partition(name: string): void {
    const names = labNames(this.dir);
    cut(names, names.veth(this.host(name).machine));
  }

  /** Reconnects `name`, or every host. */
  heal(name?: string): void {
    const names = labNames(this.dir);
    uncut(names, name === undefined ? undefined : names.veth(this.host(name).machine));
  }

  private async waitReady(host: LabMachine): Promise<void> {
    const deadline = Date.now() + BOOT_TIMEOUT_MS;
    const log = hostPaths(this.dir, host.name).log;
    try {
      await waitForSsh(host.address, BOOT_TIMEOUT_MS);
    } catch (cause) {
      const tail = existsSync(log) ? readFileSync(log, "utf8").trim().split("\n").slice(-5).join("\n  ") : "";
      throw new ExpectedExit(`${host.name} did not come up: ${(cause as Error).message}\n  ${tail}`, {
        code: "LAB_BOOT_FAILED",
        hint: `see ${log}; \`kubeha lab down --dir ${this.dir}\` cleans up`,
      });
    }
    const left = Math.max(5_000, deadline - Date.now());
    const state = this.ssh(host.name, "systemctl is-system-running --wait", left);
    if (state.stdout.trim() !== "running") {
      const failed = this.ssh(
        host.name,
        "systemctl --failed --no-legend --plain | cut -d' ' -f1",
      ).stdout.trim();
      throw new ExpectedExit(
        `${host.name} booted ${state.stdout.trim() || "with errors"}: failed units: ${failed || "none listed"}`,
        {
          code: "LAB_BOOT_DEGRADED",
          hint: `inspect with \`kubeha lab ssh ${host.name} --dir ${this.dir} -- journalctl -b\``,
        },
      );
    }
  }

  private writeKnownHosts(): void {
    const lines = this.machines().map(
      (h) => `${h.address},${h.name} ${hostKey(hostPaths(this.dir, h.name))}`,
    );
    writeFileSync(join(this.dir, "known_hosts"), `${lines.join("\n")}\n`, { mode: 0o644 });
  }

  /** Writes an ordinary kubeha spec for the lab's hosts. */
  private writeClusterSpec(): void {
    const t = this.state.topology;
    const hasEdge = t.hosts.some((h) => h.roles.includes("edge"));
    const spec = {
      apiVersion: "kubeha/v1alpha1",
      kind: "Cluster",
      metadata: { name: "lab" },
      spec: {
        ssh: {
          user: "root",
          port: 22,
          keyPath: join(this.dir, "id_ed25519"),
          knownHostsPath: join(this.dir, "known_hosts"),
        },
        network: { hostCidr: t.cidr },
        hosts: t.hosts.map((h) => ({ name: h.name, address: h.address, roles: h.roles })),
        // LAN latency between lab hosts is tens of microseconds: etcd may elect faster than its WAN-safe
        // defaults, and its shortest lease (1.5 election timeouts, rounded up) becomes 1 s
        controlPlane: { endpoint: { mode: "vip", vip: t.apiVip, port: 6443, leaseTtlSeconds: 1 } },
        // Debian's etcd package: no download in the lab (plan warns about its version)
        etcd: { heartbeatMs: 50, electionMs: 500, binaries: { source: "package" } },
        // one ingress VIP per edge, so every edge serves; the same 1 s lease as the API VIP
        ...(hasEdge && { ingress: { vips: t.ingressVips, ports: [80, 443], leaseTtlSeconds: 1 } }),
        kubernetes: { binaries: { source: "standin" } },
      },
    };
    const text = `# Written by \`kubeha lab up\`: the lab's hosts as an ordinary kubeha spec.\n${stringify(spec)}`;
    loadSpecText(text, "cluster.yaml"); // a lab that writes a spec kubeha refuses is a bug
    writeFileSync(join(this.dir, "cluster.yaml"), text);
  }
}
