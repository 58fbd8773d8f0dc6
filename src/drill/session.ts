/**
 * What every trial of a drill starts from: the context with its connections
 * and status rounds (kept between trials), the admin identity of the API
 * clients, the budgets, which host a target names, and the refusal of a
 * fault that would break a capability which holds now.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ExpectedExit } from "../core/errors.js";
import { pkiDirOf } from "../core/state-dir.js";
import { sleep } from "../core/wait.js";
import { ClusterContext, type Connector, silentReporter } from "../deploy/context.js";
import { operatorEtcdClient } from "../etcd/operator-client.js";
import { ADMIN_CONF } from "../pki/inventory.js";
import { parseKubeconfig } from "../pki/kubeconfig.js";
import type { Cluster } from "../spec/defaults.js";
import { floatingAddresses } from "../spec/vips.js";
import { assess } from "../status/assess.js";
import type { ObserveOptions } from "../status/observation.js";
import { observe } from "../status/observe.js";
import type { StatusReport } from "../status/report.js";
import { type ClientTls, epochMs } from "./clients.js";
import type { Fault, FaultName } from "./faults.js";
import type { Budgets } from "./report.js";

/** Between status rounds while waiting for healthy: each round reads every host, which a lab feels. */
const STATUS_PAUSE_MS = 3000;

/**
 * The budgets of `cluster`: the spec's `drill.budgets`, or from ARCHITECTURE
 * §7 and the spec's timings: a VIP takeover is its lease and 1.5 s, an etcd
 * election two election timeouts and 1 s; no failed request through a
 * node-local proxy while an apiserver is killed.
 */
export function defaultBudgets(cluster: Cluster): Budgets {
  const vipMs = floatingAddresses(cluster).map((v) => v.leaseTtlSeconds * 1000 + 1500);
  const etcdMs = 2 * cluster.etcd.electionMs + 1000;
  return {
    maxOutageMs: cluster.drill.maxOutageMs ?? Math.max(etcdMs, ...vipMs),
    nodeLocalProxyFailures: cluster.drill.nodeLocalProxyFailures ?? 0,
  };
}

/** The context, TLS and endpoints every trial uses. */
export interface Setup {
  readonly cluster: Cluster;
  readonly stateDir: string;
  readonly ctx: ClusterContext;
  readonly status: ObserveOptions;
  readonly apiTls: ClientTls;
  readonly run: string;
}

export async function statusRound(s: Setup): Promise<StatusReport> {
  return assess(s.cluster, await observe(s.ctx, s.status));
}

/** Status rounds until one says healthy (when it started, epoch ms) or `maxMs` passed; the last report. */
export async function untilHealthy(
  s: Setup,
  maxMs: number,
): Promise<{ report: StatusReport; healthyAt?: number }> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const t = epochMs();
    const report = await statusRound(s);
    if (report.verdict === "healthy") return { report, healthyAt: t };
    if (Date.now() + STATUS_PAUSE_MS > deadline) return { report };
    await sleep(STATUS_PAUSE_MS);
  }
}

export function setup(cluster: Cluster, stateDir: string, connect: Connector): Setup {
  const pki = pkiDirOf(stateDir);
  let admin: ReturnType<typeof parseKubeconfig>;
  try {
    admin = parseKubeconfig(readFileSync(join(pki, ADMIN_CONF), "utf8"));
  } catch {
    admin = undefined;
  }
  if (!admin)
    throw new ExpectedExit(`no ${ADMIN_CONF} in the state directory ${stateDir}`, {
      hint: "run `kubeha up` first; a drill needs the cluster it made",
    });
  const etcd = operatorEtcdClient(cluster, stateDir);
  return {
    cluster,
    stateDir,
    ctx: new ClusterContext(
      {
        cluster,
        stateDir,
        report: silentReporter,
        connect,
        concurrency: 50,
        dryRun: false,
      },
      (spec) => ({ spec }),
    ),
    status: { skipCertificates: true, ...(etcd && { etcd }) },
    apiTls: { ca: admin.caPem, cert: admin.certPem, key: admin.keyPem },
    run: new Date().toISOString().replace(/[:.]/g, "").slice(0, 15),
  };
}

/** The host `target` means, from what status saw. */
export function resolveTarget(fault: FaultName, target: string | undefined, before: StatusReport): string {
  if (fault === "etcd-leader") {
    const leader = before.etcd.leader;
    if (!leader) throw new ExpectedExit("no etcd member leads: there is no leader to kill");
    return leader;
  }
  if (!target) throw new ExpectedExit(`--fault ${fault} needs --target`, { code: "USAGE", exitCode: 2 });
  if (target === "api-vip-holder" || target === "ingress-vip-holder") {
    const vip = before.vips.find((v) => (target === "api-vip-holder" ? v.name === "api" : v.name !== "api"));
    const holder = vip?.onHosts.length === 1 ? vip.onHosts[0] : undefined;
    if (!holder)
      throw new ExpectedExit(
        `${target}: ${vip ? `the ${vip.title} has ${vip.onHosts.length} holders` : "no such VIP in this cluster"}`,
      );
    return holder;
  }
  return target;
}

/** Refuses a fault that breaks a capability which now holds, unless forced; names what would break. */
export function checkSurvivable(fault: Fault, before: StatusReport, force: boolean): void {
  const breaks: string[] = [];
  for (const cap of before.capabilities.filter((c) => c.verdict === "up" || c.verdict === "degraded")) {
    for (const r of cap.requirements) {
      const hit = r.alive.includes(fault.target) && (!fault.services || fault.services.includes(r.service));
      if (hit && r.alive.length - 1 < r.atLeast)
        breaks.push(
          `${cap.title}: ${r.alive.length - 1} of ${r.hosts.length} ${r.what} would be left, it needs ${r.atLeast}`,
        );
    }
  }
  if (breaks.length > 0 && !force)
    throw new ExpectedExit(`refusing ${fault.description}: it would break ${breaks.join("; ")}`, {
      hint: "that is what `kubeha plan` predicts for this loss; add --force to drill it anyway",
    });
}

export function artifactsDir(stateDir: string, run: string, what: string): string {
  const dir = join(stateDir, "drills", `${run}-${what}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
}
