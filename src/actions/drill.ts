/**
 * `kubeha drill`: inject a fault while clients outside the failure domain
 * record every request, heal, and report what they saw. One trial, in order:
 * status must be healthy (or --force) and the fault must not break a
 * capability plan's model says would not survive it (or --force); address
 * watches start on the VIP candidates and the clients start; after a
 * warm-up the fault is injected and held, then recovered; the clients run
 * on until status says healthy again; then the journals since the fault are
 * read, the etcd writer's acknowledged keys are read back, and the trial is
 * judged (drill/report.ts). `--each-host` powers off every host in turn and
 * checks what happened against `plan --what-if HOST`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { ExpectedExit } from "../core/errors.js";
import { sleep } from "../core/wait.js";
import type { ClusterContext, ClusterHost, Connector } from "../deploy/context.js";
import { epochMs } from "../drill/clients.js";
import { type Fault, type FaultName, makeFault, type Platform } from "../drill/faults.js";
import { startObservers } from "../drill/lineup.js";
import { type Holding, type JournalEvent, journalSince } from "../drill/observers.js";
import { type Aggregate, aggregate, type Budgets, report, type TrialReport } from "../drill/report.js";
import {
  artifactsDir,
  checkSurvivable,
  defaultBudgets,
  resolveTarget,
  type Setup,
  setup,
  untilHealthy,
} from "../drill/session.js";
import { type CapabilityName, capabilitiesOf, survives } from "../plan/capabilities.js";
import type { Cluster } from "../spec/defaults.js";
import { floatingAddresses } from "../spec/vips.js";
import type { StatusReport } from "../status/report.js";
import { statusConnector } from "./status.js";

const WARM_UP_MS = 2000;
const HEALTHY_WAIT_MS = 120_000;
/** How long status may take to say healthy before a trial. */
const BEFORE_WAIT_MS = 30_000;
/** Clients run this long after status is healthy again, to show they are. */
const COOL_DOWN_MS = 1500;

export interface DrillOptions {
  readonly fault: FaultName;
  /** A host, api-vip-holder or ingress-vip-holder; for etcd-leader, whichever member leads. */
  readonly target?: string;
  readonly component?: string;
  readonly trials: number;
  readonly holdSeconds: number;
  readonly force: boolean;
  readonly platform: Platform | ((ctx: ClusterContext) => Platform);
  readonly log: (line: string) => void;
  readonly connect?: Connector;
}

export interface DrillReport {
  readonly apiVersion: "kubeha/v1alpha1";
  readonly kind: "DrillReport";
  readonly cluster: string;
  readonly fault: FaultName;
  readonly target: string;
  readonly description: string;
  readonly budgets: Budgets;
  readonly trials: readonly TrialReport[];
  readonly aggregate: Aggregate;
  readonly passed: boolean;
  /** Where the report and the raw histories were kept. */
  readonly artifacts: string;
}

/** One trial of `fault`; `predicted`: the loss is plan's to judge (--each-host), so no refusal. */
async function trial(
  s: Setup,
  n: number,
  opts: DrillOptions,
  platform: Platform,
  budgets: Budgets,
  keepRaw: (name: string, data: unknown) => void,
  predicted = false,
  /** The healthy status the previous trial ended with: no need to ask again. */
  prior?: StatusReport,
): Promise<{ report: TrialReport; fault: Fault; after: StatusReport }> {
  // a problem that clears by itself in a few seconds (a health check that timed out once) is not a hurt cluster
  const before = prior?.verdict === "healthy" ? prior : (await untilHealthy(s, BEFORE_WAIT_MS)).report;
  if (before.verdict !== "healthy" && !opts.force)
    throw new ExpectedExit(
      `status is ${before.verdict} before trial ${n}: ${before.problems.map((p) => `${p.subject}: ${p.message}`).join("; ")}`,
      {
        hint: "a drill on a cluster that is already hurt measures something else: heal it first, or add --force",
      },
    );
  const target = resolveTarget(opts.fault, opts.target, before);
  const fault = makeFault(s.ctx, platform, {
    fault: opts.fault,
    target,
    ...(opts.component && { component: opts.component }),
  });
  if (!predicted) checkSurvivable(fault, before, opts.force);
  const ingressVip = before.vips.find((v) => v.name !== "api" && v.onHosts.includes(target))?.address;
  const maxMs = opts.holdSeconds * 1000 + HEALTHY_WAIT_MS + 30_000;
  opts.log(`trial ${n}: ${fault.description}, held ${opts.holdSeconds} s`);
  const running = await startObservers(s, target, maxMs, platform.sameClock, ingressVip);
  await sleep(WARM_UP_MS);

  const faultAt = epochMs();
  await fault.inject();
  const injectedAt = epochMs();
  await sleep(Math.max(0, opts.holdSeconds * 1000 - (injectedAt - faultAt)));
  const recoverAt = epochMs();
  await fault.recover();
  const recoveredAt = epochMs();
  opts.log(`trial ${n}: recovered; waiting for status to say healthy`);
  const { report: after, healthyAt } = await untilHealthy(s, HEALTHY_WAIT_MS);
  await sleep(COOL_DOWN_MS);
  const endedAt = epochMs();
  const histories = await Promise.all(
    running.clients.map(async (c) => ({ name: c.name, description: c.description, history: await c.stop() })),
  );
  const holdings: Holding[] = (await Promise.all(running.watches.map((w) => w.stop()))).flat();
  if (fault.name === "power-off" && platform.kind === "lab") {
    // a machine that is off holds nothing: its watch died with it, so its open holdings end at the fault
    for (const [i, h] of holdings.entries())
      if (h.host === target && (h.end === undefined || h.end > faultAt) && h.start < faultAt)
        holdings[i] = { ...h, end: faultAt };
  }
  const journal: JournalEvent[] = (
    await Promise.all(
      s.ctx.hosts.map((h) =>
        h.transport
          ? journalSince(h.transport, faultAt - 1000, running.clocks.get(h.spec.name)?.offsetMs ?? 0).catch(
              () => [],
            )
          : [],
      ),
    )
  ).flat();
  const writes = await running.writer?.check();
  const record = {
    trial: n,
    faultAt,
    injectedAt,
    recoverAt,
    recoveredAt,
    ...(healthyAt !== undefined && { healthyAt }),
    endedAt,
    statusBefore: before.verdict,
    statusAfter: after.verdict,
    target,
    clients: histories,
    holdings,
    vips: floatingAddresses(s.cluster).map((v) => {
      const row = before.vips.find((r) => r.name === v.name);
      return {
        name: v.name,
        address: v.address,
        ...(row?.onHosts.length === 1 && { holderBefore: row.onHosts[0] }),
      };
    }),
    journal,
    ...(writes && { writes }),
    ...(running.nodeLocal &&
      fault.services?.includes("apiserver") &&
      (fault.name === "kill" || fault.name === "stop") && { nodeLocalClient: running.nodeLocal }),
  };
  keepRaw(`trial-${n}-raw.json`, record);
  return { report: report(record, budgets), fault, after };
}

/** Runs `opts.trials` trials of one fault and reports them. */
export async function drill(cluster: Cluster, stateDir: string, opts: DrillOptions): Promise<DrillReport> {
  const s = setup(cluster, stateDir, opts.connect ?? statusConnector);
  const platform = typeof opts.platform === "function" ? opts.platform(s.ctx) : opts.platform;
  const budgets = defaultBudgets(cluster);
  const dir = artifactsDir(stateDir, s.run, `${opts.fault}-${opts.target ?? "leader"}`);
  const keep = (name: string, data: unknown) =>
    writeFileSync(join(dir, name), `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  const trials: TrialReport[] = [];
  let description = "";
  let target = opts.target ?? "";
  let prior: StatusReport | undefined;
  try {
    for (let n = 1; n <= opts.trials; n++) {
      const t = await trial(s, n, opts, platform, budgets, keep, false, prior);
      prior = t.after;
      trials.push(t.report);
      description = t.fault.description;
      target = t.fault.target;
      opts.log(
        `trial ${n}: ${t.report.passed ? "passed" : `FAILED: ${[...t.report.invariants.filter((i) => !i.holds).map((i) => i.detail), ...t.report.overBudget].join("; ")}`}`,
      );
    }
  } finally {
    s.status.etcd?.close();
    await Promise.all(s.ctx.hosts.map((h) => h.transport?.close()));
  }
  const out: DrillReport = {
    apiVersion: "kubeha/v1alpha1",
    kind: "DrillReport",
    cluster: cluster.name,
    fault: opts.fault,
    target,
    description,
    budgets,
    trials,
    aggregate: aggregate(trials),
    passed: trials.every((t) => t.passed),
    artifacts: dir,
  };
  keep("report.json", out);
  return out;
}

/** What `--each-host` found for one host and one capability. */
export interface Prediction {
  readonly host: string;
  readonly capability: CapabilityName;
  readonly predicted: boolean;
  readonly observed: boolean;
  /** The client that showed it. */
  readonly evidence: string;
}

export interface EachHostReport {
  readonly apiVersion: "kubeha/v1alpha1";
  readonly kind: "DrillEachHostReport";
  readonly cluster: string;
  readonly budgets: Budgets;
  readonly hosts: readonly { host: string; trial: TrialReport; predictions: readonly Prediction[] }[];
  readonly passed: boolean;
  readonly artifacts: string;
}

/** Which client shows that a capability is served. */
const CAPABILITY_CLIENT: Record<CapabilityName, string> = {
  etcdQuorum: "etcd-writes",
  api: "api-new",
  ingress: "ingress-new",
};

/** A request begun this soon after the fault may have been answered by the dying host. */
const IN_FLIGHT_MS = 1000;

/**
 * Did `client` get served while the fault was still on (past the requests
 * that were in flight when it struck)? That is the capability surviving the
 * loss; how fast it came back is the trial's budget verdict, not this.
 */
function servedDuringFault(t: TrialReport, client: string): boolean | undefined {
  const c = t.clients.find((x) => x.name === client);
  if (!c) return undefined;
  const to = t.recoverAt;
  if (to <= IN_FLIGHT_MS) return undefined;
  // the windows are the failures; a success in [from, to] is a moment without a window covering it
  const covered = c.windows.filter((w) => w.start <= IN_FLIGHT_MS && (w.open || w.end >= to));
  return covered.length === 0 && c.requests > 0;
}

/** Powers off (lab) or hard-stops (hosts) every host in turn and checks plan's predictions. */
export async function drillEachHost(
  cluster: Cluster,
  stateDir: string,
  opts: Omit<DrillOptions, "fault" | "target" | "component" | "trials" | "force"> & { force?: boolean },
): Promise<EachHostReport> {
  const s = setup(cluster, stateDir, opts.connect ?? statusConnector);
  const platform = typeof opts.platform === "function" ? opts.platform(s.ctx) : opts.platform;
  const budgets = defaultBudgets(cluster);
  const dir = artifactsDir(stateDir, s.run, "each-host");
  const keep = (name: string, data: unknown) =>
    writeFileSync(join(dir, name), `${JSON.stringify(data, null, 2)}\n`, { mode: 0o600 });
  const caps = capabilitiesOf(cluster).filter((c) => c.configured);
  // held long enough that a failover within its budget is seen serving while the host is still off
  const holdSeconds = Math.max(opts.holdSeconds, Math.ceil(budgets.maxOutageMs / 1000) + 2);
  const hosts: EachHostReport["hosts"][number][] = [];
  let prior: StatusReport | undefined;
  try {
    for (const [i, host] of cluster.hosts.entries()) {
      const { report: t, after } = await trial(
        s,
        i + 1,
        {
          ...opts,
          holdSeconds,
          fault: "power-off",
          target: host.name,
          trials: 1,
          force: opts.force ?? false,
        },
        platform,
        budgets,
        keep,
        true,
        prior,
      );
      prior = after;
      const predictions = caps.map((cap): Prediction => {
        const client = CAPABILITY_CLIENT[cap.name];
        return {
          host: host.name,
          capability: cap.name,
          predicted: survives(cap, new Set([host.name])),
          observed: servedDuringFault(t, client) ?? false,
          evidence: client,
        };
      });
      hosts.push({ host: host.name, trial: t, predictions });
      const wrong = predictions.filter((p) => p.predicted !== p.observed);
      opts.log(
        `${host.name}: ${wrong.length === 0 ? "every prediction held" : `WRONG: ${wrong.map((p) => `${p.capability} predicted ${p.predicted ? "to survive" : "lost"}, ${p.observed ? "survived" : "was lost"}`).join("; ")}`}`,
      );
    }
  } finally {
    s.status.etcd?.close();
    await Promise.all(s.ctx.hosts.map((h: ClusterHost) => h.transport?.close()));
  }
  const out: EachHostReport = {
    apiVersion: "kubeha/v1alpha1",
    kind: "DrillEachHostReport",
    cluster: cluster.name,
    budgets,
    hosts,
    passed: hosts.every((h) => h.predictions.every((p) => p.predicted === p.observed)),
    artifacts: dir,
  };
  keep("report.json", out);
  return out;
}
