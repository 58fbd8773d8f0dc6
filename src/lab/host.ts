/**
 * One lab host: an overlayfs root (the shared base image below, the host's
 * own upper layer above) booted by systemd-nspawn with systemd as PID 1.
 * PID 1 of this machine is not systemd, hence `--register=no --keep-unit`.
 * A hard power-off is SIGKILL to the container's init: the kernel then kills
 * everything in its PID namespace at once, as if the power were cut.
 *
 * Without a service manager on this machine nspawn keeps the cgroup it was
 * started in and makes `payload/` and `supervisor/` inside it; hosts booted
 * from one cgroup would share them, and their systemds then race on the same
 * unit cgroups (seen as status=219/CGROUP at boot). So each host starts in a
 * cgroup of its own, `kubeha-<machine>`, removed again at power-off.
 */
import { spawn } from "node:child_process";
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { run } from "../core/exec.js";
import { findProcesses, type ProcessInfo, waitExit } from "../core/proc.js";
import type { LabHost } from "./lab-spec.js";

/** Where a host's layers and log live inside the lab directory. */
export interface HostPaths {
  readonly root: string;
  readonly upper: string;
  readonly work: string;
  readonly log: string;
}

/** The paths of host `name` in lab directory `dir`. */
export function hostPaths(dir: string, name: string): HostPaths {
  const base = join(dir, "hosts", name);
  return {
    root: join(base, "root"),
    upper: join(base, "upper"),
    work: join(base, "work"),
    log: join(dir, "logs", `${name}.log`),
  };
}

/** Mount points under `prefix`, deepest first (the order to unmount them in). */
export function mountsUnder(prefix: string): string[] {
  const lines = readFileSync("/proc/self/mountinfo", "utf8").split("\n");
  const points = lines
    .map((l) => l.split(" ")[4]?.replace(/\\040/g, " "))
    .filter((p): p is string => Boolean(p));
  return points.filter((p) => p === prefix || p.startsWith(`${prefix}/`)).sort((a, b) => b.length - a.length);
}

/** Mounts the host's overlay root unless it is mounted already. */
export function mountRoot(image: string, paths: HostPaths): void {
  if (mountsUnder(paths.root).includes(paths.root)) return;
  for (const d of [paths.root, paths.upper, paths.work]) mkdirSync(d, { recursive: true, mode: 0o755 });
  run("mount", [
    "-t",
    "overlay",
    "overlay",
    "-o",
    `lowerdir=${image},upperdir=${paths.upper},workdir=${paths.work}`,
    paths.root,
  ]);
}

/** Whether the host was set up before (its own machine id is in its upper layer). */
export const isInitialised = (paths: HostPaths) => existsSync(join(paths.upper, "etc/machine-id"));

/** Writes what makes this machine this host: name, machine id, address, host key, the operator's key. */
export function initialise(
  paths: HostPaths,
  host: LabHost,
  prefix: number,
  all: readonly LabHost[],
  authorizedKey: string,
): string {
  const root = paths.root;
  const file = (path: string, content: string, mode = 0o644) => {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), content, { mode });
  };
  file("etc/hostname", `${host.name}\n`);
  file("etc/machine-id", `${run("systemd-id128", ["new"]).trim()}\n`, 0o444);
  file(
    "etc/systemd/network/10-host0.network",
    `[Match]\nName=host0\n\n[Network]\nAddress=${host.address}/${prefix}\nLinkLocalAddressing=no\nIPv6AcceptRA=no\n`,
  );
  file(
    "etc/hosts",
    `127.0.0.1 localhost\n127.0.1.1 ${host.name}\n${all.map((h) => `${h.address} ${h.name}`).join("\n")}\n`,
  );
  mkdirSync(join(root, "root/.ssh"), { recursive: true, mode: 0o700 });
  file("root/.ssh/authorized_keys", authorizedKey, 0o600);
  const key = join(root, "etc/ssh/ssh_host_ed25519_key");
  run("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `root@${host.name}`, "-f", key]);
  return readFileSync(`${key}.pub`, "utf8").trim();
}

/** The public host key of an initialised host. */
export function hostKey(paths: HostPaths): string {
  return readFileSync(join(paths.root, "etc/ssh/ssh_host_ed25519_key.pub"), "utf8").trim();
}

/** The systemd-nspawn process running `machine`, if any. */
export function nspawnOf(machine: string): ProcessInfo | undefined {
  return findProcesses(
    (p) => p.argv[0]?.endsWith("systemd-nspawn") === true && p.argv.includes(`--machine=${machine}`),
  )[0];
}

/** The cgroup hierarchies a host gets its own cgroup in: the unified one and, on a hybrid setup, name=systemd. */
function cgroupRoots(): string[] {
  if (existsSync("/sys/fs/cgroup/cgroup.controllers")) return ["/sys/fs/cgroup"];
  return ["/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"].filter((d) =>
    existsSync(join(d, "cgroup.procs")),
  );
}

/** The host's own cgroups, one per hierarchy. */
export function cgroupsOf(machine: string): string[] {
  return cgroupRoots().map((root) => join(root, `kubeha-${machine}`));
}

/** Removes the host's cgroups (they must hold no process any more). */
export function removeCgroups(machine: string): void {
  const removeTree = (dir: string) => {
    if (!existsSync(dir)) return;
    for (const e of readdirSync(dir, { withFileTypes: true }))
      if (e.isDirectory()) removeTree(join(dir, e.name));
    rmdirSync(dir);
  };
  for (const dir of cgroupsOf(machine)) removeTree(dir);
}

/** Joins a cgroup per hierarchy given before `--`, then runs the command after it. */
const IN_OWN_CGROUP =
  'while [ "$1" != "--" ]; do mkdir -p "$1" && echo $$ > "$1/cgroup.procs" || exit 1; shift; done; shift; exec "$@"';

/** Boots the host in the background; its console goes to the host's log file. */
export function boot(paths: HostPaths, host: LabHost, machine: string, bridge: string): number {
  mkdirSync(join(paths.log, ".."), { recursive: true });
  const log = openSync(paths.log, "a");
  const child = spawn(
    "sh",
    [
      "-c",
      IN_OWN_CGROUP,
      "sh",
      ...cgroupsOf(machine),
      "--",
      "systemd-nspawn",
      "--boot",
      "--register=no",
      "--keep-unit",
      `--directory=${paths.root}`,
      `--machine=${machine}`,
      `--hostname=${host.name}`,
      `--network-bridge=${bridge}`,
      "--console=passive",
      "--link-journal=no",
      "--resolv-conf=off",
      "--timezone=off",
    ],
    { detached: true, stdio: ["ignore", log, log] },
  );
  closeSync(log);
  child.unref();
  return child.pid ?? 0;
}

/** Hard power-off: SIGKILL to the container's init, then to nspawn if it lingers. */
export async function powerOff(machine: string): Promise<boolean> {
  const nspawn = nspawnOf(machine);
  if (!nspawn) return false;
  for (const init of findProcesses((p) => p.ppid === nspawn.pid)) tryKill(init.pid, "SIGKILL");
  if (!(await waitExit(nspawn.pid, 5000))) {
    tryKill(nspawn.pid, "SIGKILL");
    await waitExit(nspawn.pid, 5000);
  }
  removeCgroups(machine);
  return true;
}

/** Clean shutdown: nspawn turns SIGTERM into an orderly poweroff of the container. */
export async function shutdown(machine: string, timeoutMs = 30_000): Promise<boolean> {
  const nspawn = nspawnOf(machine);
  if (!nspawn) return false;
  tryKill(nspawn.pid, "SIGTERM");
  if (!(await waitExit(nspawn.pid, timeoutMs))) await powerOff(machine);
  removeCgroups(machine);
  return true;
}

function tryKill(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}
