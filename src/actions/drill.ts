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
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ExpectedExit } from "../core/errors.js";
import { HostPki, pkiPath } from "../core/host-paths.js";
import { hostPort, httpsUrl } from "../core/ip.js";
import { pkiDirOf } from "../core/state-dir.js";
import { sleep } from "../core/wait.js";
import { ClusterContext, type ClusterHost, type Connector } from "../deploy/context.js";
import {
  type ClientTls,
  clockOffset,
  type DrillClient,
  epochMs,
  etcdWriter,
  httpLoop,
  remoteCurlLoop,
  watchLoop,
} from "../drill/clients.js";
import { type Fault, type FaultName, makeFault, type Platform } from "../drill/faults.js";
import { type Holding, type JournalEvent, journalSince, watchAddresses } from "../drill/observers.js";
import { type Aggregate, aggregate, type Budgets, report, type TrialReport } from "../drill/report.js";
import { KUBEHA_PREFIX } from "../etcd/keyspace.js";
import { operatorEtcdClient, operatorEtcdTls } from "../etcd/operator-client.js";
import { clientUrl } from "../etcd/urls.js";
import { ADMIN_CONF, apiEndpointUrl } from "../pki/inventory.js";
import { parseKubeconfig } from "../pki/kubeconfig.js";
import { type CapabilityName, capabilitiesOf, survives } from "../plan/capabilities.js";
import type { Cluster } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import { floatingAddresses } from "../spec/vips.js";
import { assess, type StatusReport } from "../status/assess.js";
import { type ObserveOptions, observe } from "../status/observe.js";
import { statusConnector } from "./status.js";

const WARM_UP_MS = 2000;
const HEALTHY_WAIT_MS = 120_000;
/** How long status may take to say healthy before a trial. */
const BEFORE_WAIT_MS = 30_000;
/** Clients run this long after status is healthy again, to show they are. */
const COOL_DOWN_MS = 1500;
/**
 * Pause between a client's requests: ten a second each resolves an outage to
 * 0.1 s and keeps the clients' own load (a TLS handshake per new connection)
 * small beside what they measure; a lab shares two cores among its hosts.
 */
const CLIENT_INTERVAL_MS = 100;
/** Clients that open a TLS connection per request ask half as often: a handshake costs the server most. */
const NEW_CONNECTION_INTERVAL_MS = 200;
/** A request that takes longer has failed; long enough that a loaded lab's slow answers are latency, not outages. */
const REQUEST_TIMEOUT_MS = 2000;
/** Between status rounds while waiting for healthy: each round reads every host, which a lab feels. */
const STATUS_PAUSE_MS = 3000;
/** A watch with a heartbeat each second is stalled after two missed. */
const WATCH_STALL_MS = 2000;

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

/** The context, TLS and endpoints every trial uses. */
interface Setup {
  readonly cluster: Cluster;
  readonly stateDir: string;
  readonly ctx: ClusterContext;
  readonly status: ObserveOptions;
  readonly apiTls: ClientTls;
  readonly run: string;
}

async function statusRound(s: Setup): Promise<StatusReport> {
  return assess(s.cluster, await observe(s.ctx, s.status));
}

/** Status rounds until one says healthy (when it started, epoch ms) or `maxMs` passed; the last report. */
async function untilHealthy(s: Setup, maxMs: number): Promise<{ report: StatusReport; healthyAt?: number }> {
  const deadline = Date.now() + maxMs;
  for (;;) {
    const t = epochMs();
    const report = await statusRound(s);
    if (report.verdict === "healthy") return { report, healthyAt: t };
    if (Date.now() + STATUS_PAUSE_MS > deadline) return { report };
    await sleep(STATUS_PAUSE_MS);
  }
}

function setup(cluster: Cluster, stateDir: string, connect: Connector): Setup {
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
        report: { phase: () => {}, host: () => {}, info: () => {} },
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
function resolveTarget(fault: FaultName, target: string | undefined, before: StatusReport): string {
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

interface Running {
  readonly clients: DrillClient[];
  readonly writer?: ReturnType<typeof etcdWriter>;
  readonly watches: Awaited<ReturnType<typeof watchAddresses>>[];
  readonly offsets: Map<string, number>;
  readonly nodeLocal?: string;
}

/** Starts the clients outside the failure domain of a fault on `target`, and the address watches. */
async function startObservers(
  s: Setup,
  target: string,
  maxMs: number,
  ingressVip?: string,
): Promise<Running> {
  const { cluster, ctx } = s;
  const limits = { maxMs, intervalMs: CLIENT_INTERVAL_MS };
  const api = apiEndpointUrl(cluster);
  const standin = cluster.kubernetes.binaries.source === "standin";
  const clients: DrillClient[] = [
    httpLoop({
      name: "api-new",
      description: `GET ${api}/readyz, a new connection each`,
      url: `${api}/readyz`,
      reuse: false,
      tls: s.apiTls,
      timeoutMs: REQUEST_TIMEOUT_MS,
      limits: { ...limits, intervalMs: NEW_CONNECTION_INTERVAL_MS },
    }),
    httpLoop({
      name: "api-reused",
      description: `GET ${api}/readyz on one kept-alive connection`,
      url: `${api}/readyz`,
      reuse: true,
      tls: s.apiTls,
      timeoutMs: REQUEST_TIMEOUT_MS,
      limits,
    }),
    watchLoop({
      name: "api-watch",
      description: standin
        ? `a long watch through ${api} (the stand-in's, a heartbeat each second)`
        : `a long watch of kube-system ConfigMaps through ${api}`,
      url: standin
        ? `${api}/watch`
        : `${api}/api/v1/namespaces/kube-system/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=600`,
      tls: s.apiTls,
      heartbeat: standin,
      stallMs: WATCH_STALL_MS,
      limits: { ...limits, intervalMs: 50 },
    }),
  ];
  const offsets = new Map<string, number>();
  await Promise.all(
    ctx.hosts.map(async (h) => {
      if (h.transport) offsets.set(h.spec.name, await clockOffset(h.transport).catch(() => 0));
    }),
  );
  let nodeLocal: string | undefined;
  const worker = ctx.hosts.find(
    (h) => !h.spec.roles.includes("controlplane") && h.spec.name !== target && h.transport,
  );
  if (worker?.transport) {
    const url = `${httpsUrl("127.0.0.1", cluster.controlPlane.nodeLocalProxyPort)}/readyz`;
    nodeLocal = "node-local";
    clients.push(
      remoteCurlLoop({
        name: nodeLocal,
        description: `curl ${url} on ${worker.spec.name}, a new connection each (what a pod there sees)`,
        transport: worker.transport,
        url,
        caFile: pkiPath(HostPki.ca.cert),
        run: s.run,
        offsetMs: offsets.get(worker.spec.name) ?? 0,
        limits: { ...limits, intervalMs: 250 },
      }),
    );
  }
  let writer: ReturnType<typeof etcdWriter> | undefined;
  const tls = operatorEtcdTls(cluster, s.stateDir);
  const members = new HostList(cluster.hosts).etcdMembers();
  if (tls && members.length > 0) {
    writer = etcdWriter({
      name: "etcd-writes",
      description: `sequential puts under ${KUBEHA_PREFIX}drill/ through every member, read back after the heal`,
      endpoints: members.map(clientUrl),
      tls,
      prefix: `${KUBEHA_PREFIX}drill/${s.run}/${Date.now()}/`,
      limits,
    });
    clients.push(writer);
  }
  const ingress = floatingAddresses(cluster).filter((v) => v.role === "edge");
  const vip = ingress.find((v) => v.address === ingressVip) ?? ingress[0];
  if (vip) {
    const url = `http://${hostPort(vip.address, vip.ports[0] ?? 80)}/`;
    const answered = (code: number) => code > 0 && code < 500;
    clients.push(
      httpLoop({
        name: "ingress-new",
        description: `GET ${url}, a new connection each`,
        url,
        reuse: false,
        timeoutMs: REQUEST_TIMEOUT_MS,
        limits: { ...limits, intervalMs: NEW_CONNECTION_INTERVAL_MS },
        ok: answered,
      }),
      httpLoop({
        name: "ingress-reused",
        description: `GET ${url} on one kept-alive connection`,
        url,
        reuse: true,
        timeoutMs: REQUEST_TIMEOUT_MS,
        limits,
        ok: answered,
      }),
    );
  }
  const vips = floatingAddresses(cluster).map((v) => v.address);
  const candidates = ctx.hosts.filter((h) =>
    floatingAddresses(cluster).some((v) => v.candidates.some((c) => c.name === h.spec.name)),
  );
  const watches = await Promise.all(
    candidates.flatMap((h) =>
      h.transport ? [watchAddresses(h.transport, vips, s.run, maxMs, offsets.get(h.spec.name) ?? 0)] : [],
    ),
  );
  return { clients, ...(writer && { writer }), watches, offsets, ...(nodeLocal && { nodeLocal }) };
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
  const running = await startObservers(s, target, maxMs, ingressVip);
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
          ? journalSince(h.transport, faultAt - 1000, running.offsets.get(h.spec.name) ?? 0).catch(() => [])
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

function artifactsDir(stateDir: string, run: string, what: string): string {
  const dir = join(stateDir, "drills", `${run}-${what}`);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  return dir;
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

/**
 * Did `client` get served while the fault was still on, once its budget for
 * a failover had passed? That is the capability surviving the loss.
 */
function servedDuringFault(t: TrialReport, client: string, budgets: Budgets): boolean | undefined {
  const c = t.clients.find((x) => x.name === client);
  if (!c) return undefined;
  const from = budgets.maxOutageMs;
  const to = t.recoverAt;
  // the windows are the failures; a success in [from, to] is a moment without a window covering it
  if (to <= from) return undefined;
  const covered = c.windows.filter((w) => w.start <= from && (w.open || w.end >= to));
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
  const hosts: EachHostReport["hosts"][number][] = [];
  let prior: StatusReport | undefined;
  try {
    for (const [i, host] of cluster.hosts.entries()) {
      const { report: t, after } = await trial(
        s,
        i + 1,
        { ...opts, fault: "power-off", target: host.name, trials: 1, force: opts.force ?? false },
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
          observed: servedDuringFault(t, client, budgets) ?? false,
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
