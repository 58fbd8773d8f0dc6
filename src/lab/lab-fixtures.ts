/** Helpers for tests that need lab hosts: a scratch lab directory, residue checks. */

import { spawn } from "node:child_process";
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

/** Boots a test lab of cp1..cp3 (controlplane, etcd), the given workers and edges (worker, edge) on `cidr`. */
export function controlPlaneLab(
  dir: string,
  cidr: string,
  workers: readonly string[],
  log: (line: string) => void,
  edges: readonly string[] = [],
): Promise<Lab> {
  const cps = ["cp1", "cp2", "cp3"].map((name) => ({ name, roles: ["controlplane", "etcd"] as Role[] }));
  const ws = workers.map((name) => ({ name, roles: ["worker"] as Role[] }));
  const es = edges.map((name) => ({ name, roles: ["worker", "edge"] as Role[] }));
  return Lab.up(dir, labTopology([...cps, ...ws, ...es], cidr), log);
}

/** This process's environment with the etcd access file `up` wrote into `stateDir` (etcdctl from this machine). */
export const etcdAccessEnv = (stateDir: string): NodeJS.ProcessEnv => ({
  ...process.env,
  ...Object.fromEntries(
    readFileSync(join(stateDir, "etcdctl.env"), "utf8")
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  ),
});

/** The PID of a lab host's init (systemd), for entering its network namespace from this machine. */
export function initPidOf(lab: Lab, name: string): number {
  const nspawn = lab.status().find((h) => h.name === name)?.pid;
  if (!nspawn) throw new Error(`${name} is not running`);
  const child = readFileSync(`/proc/${nspawn}/task/${nspawn}/children`, "utf8").trim().split(/\s+/)[0];
  return Number(child);
}

/** What a client loop saw. */
export interface ClientTally {
  readonly ok: number;
  readonly failed: number;
  /** The first failures: status codes or error messages. */
  readonly errors: readonly (string | number)[];
  /** Answers by their first word (HTTP only: the lab's ingress nginx answers with its host name). */
  readonly by: Readonly<Record<string, number>>;
}

// one GET at a time on a new connection, every 20 ms, until SIGTERM or maxMs
const CLIENT_LOOP = `
const url = process.env.URL;
const tls = url.startsWith("https:");
const get = require(tls ? "node:https" : "node:http").get;
const ca = tls ? require("node:fs").readFileSync(process.env.CA) : undefined;
const max = Number(process.env.MAX_MS);
const t0 = Date.now();
let ok = 0, failed = 0, stop = false;
const errors = [], by = {};
process.on("SIGTERM", () => { stop = true; });
const once = () => new Promise((done) => {
  const req = get(url, { ca, agent: false, timeout: 3000 }, (res) => {
    let body = "";
    res.setEncoding("utf8");
    res.on("data", (d) => { if (!tls) body += d; });
    res.on("end", () => {
      if (res.statusCode === 200) { ok++; const w = body.split(/\\s/)[0]; if (w) by[w] = (by[w] || 0) + 1; }
      else { failed++; if (errors.length < 10) errors.push(res.statusCode); }
      done();
    });
  });
  req.on("timeout", () => req.destroy(new Error("timeout")));
  req.on("error", (e) => { failed++; if (errors.length < 10) errors.push(e.message); done(); });
});
(async () => {
  while (!stop && Date.now() - t0 < max) { await once(); await new Promise((r) => setTimeout(r, 20)); }
  process.stdout.write(JSON.stringify({ ok, failed, errors, by }));
})();
`;

/**
 * Starts a client that requests `url` (https: verified against `caFile`) over a new
 * connection every 20 ms, for at most `maxMs`, from this machine or from
 * inside a lab host's network namespace (`netnsPid`, see initPidOf);
 * `stop()` ends it and gives the tally.
 */
export function startClientLoop(opts: { url: string; caFile?: string; maxMs: number; netnsPid?: number }) {
  const node = [process.execPath, "-e", CLIENT_LOOP];
  const argv = opts.netnsPid ? ["nsenter", "-t", String(opts.netnsPid), "-n", ...node] : node;
  const child = spawn(argv[0] ?? "", argv.slice(1), {
    env: { ...process.env, URL: opts.url, CA: opts.caFile ?? "", MAX_MS: String(opts.maxMs) },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d));
  const ended = new Promise<ClientTally>((resolve) =>
    child.on("close", () => resolve(JSON.parse(out || "{}"))),
  );
  return {
    stop: (): Promise<ClientTally> => {
      child.kill("SIGTERM");
      return ended;
    },
  };
}
