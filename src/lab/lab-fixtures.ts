/** Helpers for tests that need lab hosts: a scratch lab directory, residue checks. */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { run } from "../core/exec.js";
import { findProcesses } from "../core/proc.js";
import type { Role } from "../spec/schema.js";
import { Lab } from "./lab.js";
import { labTopology } from "./lab-spec.js";
import { labNames } from "./names.js";

/** Why lab tests cannot run here, or undefined when they can. */
export function labSkipReason(): string | undefined {
  if (process.getuid?.() !== 0) return "lab tests need root (bridges, mounts, containers)";
  return undefined;
}

/** A fresh directory for a test lab under /var/tmp (a real filesystem overlayfs accepts), removed at exit unless something is still mounted in it. */
export function labScratch(prefix: string): string {
  const dir = mkdtempSync(join("/var/tmp", `kubeha-${prefix}-`));
  process.on("exit", () => {
    if (!readFileSync("/proc/self/mountinfo", "utf8").includes(dir))
      rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Everything of the lab in `dir` still present on this machine: processes, mounts, links, nftables tables. */
export function labResidue(dir: string): string[] {
  const names = labNames(dir);
  const out: string[] = [];
  for (const p of findProcesses((p) => p.argv.some((a) => a.includes(`kh${names.id}`))))
    out.push(`process ${p.pid}: ${p.argv.join(" ")}`);
  for (const line of readFileSync("/proc/self/mountinfo", "utf8").split("\n")) {
    const point = line.split(" ")[4];
    if (point?.startsWith(names.dir)) out.push(`mount ${point}`);
  }
  for (const l of JSON.parse(run("ip", ["-j", "link", "show"])) as { ifname: string }[]) {
    if (l.ifname === names.bridge || l.ifname.startsWith(`vb-kh${names.id}`)) out.push(`link ${l.ifname}`);
  }
  if (run("nft", ["list", "tables"]).includes(names.table)) out.push(`nftables table ${names.table}`);
  for (const root of ["/sys/fs/cgroup", "/sys/fs/cgroup/systemd", "/sys/fs/cgroup/unified"]) {
    if (!existsSync(root)) continue;
    for (const d of readdirSync(root))
      if (d.startsWith(`kubeha-kh${names.id}`)) out.push(`cgroup ${join(root, d)}`);
  }
  return out;
}

/** Boots a test lab of cp1..cp3 (controlplane, etcd) and the given workers on `cidr`. */
export function controlPlaneLab(
  dir: string,
  cidr: string,
  workers: readonly string[],
  log: (line: string) => void,
): Promise<Lab> {
  const cps = ["cp1", "cp2", "cp3"].map((name) => ({ name, roles: ["controlplane", "etcd"] as Role[] }));
  const ws = workers.map((name) => ({ name, roles: ["worker"] as Role[] }));
  return Lab.up(dir, labTopology([...cps, ...ws], cidr), log);
}
