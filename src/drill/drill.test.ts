/** What a drill concludes from what it recorded: outage windows, holdings from address events, invariants, budgets. */
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { describe, it } from "node:test";
import { sleep } from "../core/wait.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import type { StatusReport } from "../status/report.js";
import { connectLoop, epochMs } from "./clients.js";
import type { Fault } from "./faults.js";
import { outageWindows, quantile, type Request, summarize } from "./history.js";
import { holdingsFrom, overlaps } from "./observers.js";
import { report, type TrialRecord } from "./report.js";
import { checkSurvivable, defaultBudgets } from "./session.js";

const ok = (start: number, end = start + 5): Request => ({ start, end, outcome: "ok" });
const failed = (start: number, error = "ECONNREFUSED", end = start + 5): Request => ({
  start,
  end,
  outcome: "failed",
  error,
});

describe("outage windows", () => {
  it("open at the first failure and close at the next success's start; none when nothing failed", () => {
    assert.deepEqual(outageWindows([ok(0), ok(100)]), []);
    assert.deepEqual(
      outageWindows([ok(-100), failed(0), failed(100, "timeout", 1100), ok(1200), failed(1300), ok(1400)]),
      [
        { start: 0, end: 1200, requests: 2, errors: ["ECONNREFUSED", "timeout"] },
        { start: 1300, end: 1400, requests: 1, errors: ["ECONNREFUSED"] },
      ],
    );
  });

  it("leaves a window open when nothing succeeded after it, and counts errors", () => {
    assert.deepEqual(outageWindows([ok(0), failed(100), failed(200), failed(300, "timeout", 900)]), [
      { start: 100, end: 900, requests: 3, errors: ["ECONNREFUSED ×2", "timeout"], open: true },
    ]);
  });

  it("summarizes failures, indeterminate requests, the longest window and latency quantiles", () => {
    const s = summarize("c", "a client", [
      ok(-200, -190),
      failed(0),
      { start: 100, end: 1100, outcome: "indeterminate", error: "deadline" },
      ok(1200, 1230),
      ok(1300, 1310),
    ]);
    assert.equal(s.requests, 5);
    assert.equal(s.failures, 1);
    assert.equal(s.indeterminate, 1);
    assert.equal(s.longestMs, 1200);
    assert.equal(s.firstSuccessAfterFault, 1230);
    assert.equal(s.p50Ms, 10);
    assert.equal(s.p99Ms, 30);
    assert.equal(quantile([], 0.5), 0);
  });
});

describe("connect loop", () => {
  it("records a refused connect as a failure with its cause, and the outage as one window", async () => {
    const server = createServer((s) => s.destroy());
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const client = connectLoop({
      name: "tcp",
      description: "connects",
      host: "127.0.0.1",
      port,
      timeoutMs: 200,
      limits: { maxMs: 5000, intervalMs: 10 },
    });
    await sleep(150);
    const down = epochMs();
    await new Promise((r) => server.close(r));
    await sleep(150);
    const up = epochMs();
    await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
    await sleep(150);
    const history = await client.stop();
    server.close();
    const s = summarize("tcp", "connects", history);
    assert.ok(s.failures > 0 && s.requests > s.failures, `${s.failures} of ${s.requests} failed`);
    assert.equal(s.windows.length, 1, JSON.stringify(s.windows));
    const [w] = s.windows;
    assert.ok(w && w.start >= down && w.end >= up, JSON.stringify({ w, down, up }));
    assert.match(w?.errors.join() ?? "", /ECONNREFUSED/);
  });
});

describe("VIP holdings from address events", () => {
  const initial =
    "2: host0    inet 192.168.61.11/24 brd 192.168.61.255 scope global host0\\\n2: host0    inet 192.168.61.100/32 scope global dynamic host0\\\n";
  const events = [
    "[2026-12-02T10:00:01.000000] 2: host0    inet 192.168.61.100/32 scope global dynamic host0\\       valid_lft 1sec",
    "[2026-12-02T10:00:02.500000] Deleted 2: host0    inet 192.168.61.100/32 scope global dynamic host0\\       valid_lft 1sec",
    "[2026-12-02T10:00:05.250000] 2: host0    inet 192.168.61.200/32 scope global dynamic host0\\       valid_lft 1sec",
  ].join("\n");
  const t = (s: string) => Date.parse(`2026-12-02T10:00:${s}Z`);

  it("turn the addresses at the start and each add and delete into intervals, corrected by the clock offset", () => {
    const clock = { offsetMs: 250, errorMs: 4 };
    const h = holdingsFrom("cp1", ["192.168.61.100", "192.168.61.200"], initial, events, t("00.000"), clock);
    assert.deepEqual(h, [
      { host: "cp1", vip: "192.168.61.100", start: t("00.000"), end: t("02.500") - 250, errorMs: 4 },
      { host: "cp1", vip: "192.168.61.200", start: t("05.250") - 250, errorMs: 4 },
    ]);
  });

  it("measure two holders at once as the overlap of intervals, and none for a clean hand-over", () => {
    const a = { host: "cp1", vip: "v", start: 0, end: 1000, errorMs: 0 };
    assert.deepEqual(overlaps([a, { host: "cp2", vip: "v", start: 1000, errorMs: 0 }], "v", 5000), {
      ms: 0,
      hosts: [],
    });
    assert.deepEqual(overlaps([a, { host: "cp2", vip: "v", start: 800, errorMs: 0 }], "v", 5000), {
      ms: 200,
      hosts: ["cp1", "cp2"],
    });
    assert.deepEqual(overlaps([a, { host: "cp2", vip: "other", start: 0, errorMs: 0 }], "v", 5000), {
      ms: 0,
      hosts: [],
    });
  });

  it("count only the overlap that the two hosts' clock errors cannot explain", () => {
    const a = { host: "cp1", vip: "v", start: 0, end: 1000, errorMs: 60 };
    const b = (errorMs: number) => ({ host: "cp2", vip: "v", start: 800, errorMs });
    assert.deepEqual(overlaps([a, b(140)], "v", 5000), { ms: 0, hosts: [] });
    assert.deepEqual(overlaps([a, b(40)], "v", 5000), { ms: 100, hosts: ["cp1", "cp2"] });
  });
});

describe("trial report", () => {
  const t0 = 1_000_000;
  const base: TrialRecord = {
    trial: 1,
    faultAt: t0,
    injectedAt: t0 + 20,
    recoverAt: t0 + 8000,
    recoveredAt: t0 + 12_000,
    healthyAt: t0 + 20_000,
    endedAt: t0 + 22_000,
    statusBefore: "healthy",
    statusAfter: "healthy",
    target: "cp1",
    clients: [
      {
        name: "api-new",
        description: "",
        history: [ok(t0 - 100), failed(t0 + 100), ok(t0 + 1700), ok(t0 + 9000)],
      },
      { name: "node-local", description: "", history: [ok(t0), ok(t0 + 500)] },
    ],
    holdings: [
      { host: "cp1", vip: "192.168.61.100", start: t0 - 60_000, end: t0, errorMs: 0 },
      { host: "cp2", vip: "192.168.61.100", start: t0 + 1500, errorMs: 0 },
    ],
    vips: [{ name: "api", address: "192.168.61.100", holderBefore: "cp1" }],
    journal: [
      {
        at: t0 + 1400,
        host: "cp2",
        unit: "kubeha-agent",
        event: { kind: "vip-acquired", vip: "api", address: "192.168.61.100", after: "no holder" },
      },
      {
        at: t0 + 600,
        host: "cp3",
        unit: "etcd",
        event: { message: "raft.node: 1 elected leader 2 at term 5" },
      },
      {
        at: t0 + 900,
        host: "w1",
        unit: "kubeha-agent",
        event: { kind: "backend-down", backend: "192.168.61.11:6443", reason: "connect failed" },
      },
      {
        at: t0 + 950,
        host: "w2",
        unit: "kubeha-agent",
        event: { kind: "backend-down", backend: "192.168.61.11:6443", reason: "connect failed" },
      },
    ],
    writes: { acknowledged: 50, indeterminate: 1, lost: [] },
  };
  const budgets = { maxOutageMs: 2500, nodeLocalProxyFailures: 0 };

  it("does not call a new election on the recovered host a fail-back when the holder failed", () => {
    const r = report(
      {
        ...base,
        holdings: [
          ...base.holdings.slice(0, 1),
          { host: "cp2", vip: "192.168.61.100", start: t0 + 1500, end: t0 + 14_000, errorMs: 0 },
          { host: "cp1", vip: "192.168.61.100", start: t0 + 15_000, errorMs: 0 },
        ],
        journal: [
          ...base.journal,
          {
            at: t0 + 13_990,
            host: "cp2",
            unit: "kubeha-agent",
            event: {
              kind: "vip-released",
              vip: "api",
              reason: "no lease renewal acknowledged for 870 ms (fence)",
            },
          },
          {
            at: t0 + 15_000,
            host: "cp1",
            unit: "kubeha-agent",
            event: { kind: "vip-acquired", vip: "api", after: "no holder" },
          },
        ],
      },
      budgets,
    );
    const inv = r.invariants.find((i) => i.name === "no fail-back of api VIP");
    assert.equal(inv?.holds, true);
    assert.equal(inv?.detail, "back on cp1 only after its holder let it go (1 election there)");
  });

  it("passes a clean takeover and tells the story in order", () => {
    const r = report(base, budgets);
    assert.equal(r.passed, true, JSON.stringify([r.invariants, r.overBudget]));
    assert.deepEqual(r.vips, [
      {
        name: "api",
        address: "192.168.61.100",
        holderBefore: "cp1",
        holderAfter: "cp2",
        takenOverAt: 1500,
        twoHoldersMs: 0,
      },
    ]);
    assert.deepEqual(
      r.timeline.map((e) => `${e.at} ${e.what}`),
      [
        "0 fault injected",
        "600 etcd leader elected at term 5 (seen by cp3)",
        "900 backend 192.168.61.11:6443 taken out of rotation by w1's load balancer (connect failed)",
        "950 backend 192.168.61.11:6443 out on all 2 load balancers that saw it fail",
        "1400 cp2 took api 192.168.61.100 (address added, gratuitous ARP sent): no holder",
        "1500 cp2 has api VIP 192.168.61.100 on its interface",
        "1705 api-new: first success after the fault",
        "8000 recovery started",
        "12000 recovered",
        "20000 status healthy again",
      ],
    );
    assert.deepEqual(
      r.invariants.map((i) => [i.name, i.holds]),
      [
        ["one holder of api VIP 192.168.61.100", true],
        ["no acknowledged etcd write lost", true],
        ["no fail-back of api VIP", true],
      ],
    );
  });

  it("fails on two holders, a lost write, a fail-back, an outage over budget and a failure through the node-local proxy", () => {
    const r = report(
      {
        ...base,
        clients: [
          { name: "api-new", description: "", history: [ok(t0 - 100), failed(t0 + 100), ok(t0 + 4000)] },
          { name: "node-local", description: "", history: [ok(t0), failed(t0 + 500), ok(t0 + 600)] },
        ],
        holdings: [
          { host: "cp1", vip: "192.168.61.100", start: t0 - 60_000, end: t0 + 1600, errorMs: 0 },
          { host: "cp2", vip: "192.168.61.100", start: t0 + 1500, end: t0 + 13_000, errorMs: 0 },
          { host: "cp1", vip: "192.168.61.100", start: t0 + 13_000, errorMs: 0 },
        ],
        journal: [
          ...base.journal,
          {
            at: t0 + 12_990,
            host: "cp2",
            unit: "kubeha-agent",
            event: { kind: "vip-released", vip: "api", reason: "rebalance: cp2 holds 2" },
          },
          {
            at: t0 + 13_000,
            host: "cp1",
            unit: "kubeha-agent",
            event: { kind: "vip-acquired", vip: "api", after: "a clean hand-over" },
          },
        ],
        writes: { acknowledged: 50, indeterminate: 0, lost: ["/kubeha/drill/x/000007"] },
        nodeLocalClient: "node-local",
      },
      budgets,
    );
    assert.equal(r.passed, false);
    assert.deepEqual(
      r.invariants.filter((i) => !i.holds).map((i) => i.detail),
      [
        "two hosts held it for 100 ms",
        "50 acknowledged, 1 missing after the heal, 0 indeterminate",
        "cp2 handed it back to cp1 after it recovered: rebalance: cp2 holds 2",
      ],
    );
    assert.deepEqual(r.overBudget, [
      "api-new: longest outage 3900 ms > 2500 ms",
      "node-local: 1 failed requests > 0",
    ]);
  });
});

describe("refusals", () => {
  const before = {
    capabilities: [
      {
        name: "etcdQuorum",
        title: "etcd quorum",
        verdict: "degraded",
        detail: "",
        requirements: [
          {
            what: "etcd members",
            service: "etcd",
            hosts: ["cp1", "cp2", "cp3"],
            alive: ["cp1", "cp2"],
            atLeast: 2,
            canLoseMore: 0,
          },
        ],
      },
    ],
  } as unknown as StatusReport;
  const fault = (target: string, services?: string[]): Fault => ({
    name: "kill",
    target,
    ...(services && { services }),
    description: `a fault on ${target}`,
    inject: async () => {},
    recover: async () => {},
  });

  it("refuses a fault that would break a capability which holds now, naming it, unless forced", () => {
    assert.throws(
      () => checkSurvivable(fault("cp1", ["etcd"]), before, false),
      /refusing a fault on cp1: it would break etcd quorum: 1 of 3 etcd members would be left, it needs 2/,
    );
    assert.throws(() => checkSurvivable(fault("cp2"), before, false), /would break etcd quorum/);
    checkSurvivable(fault("cp1", ["etcd"]), before, true);
    checkSurvivable(fault("cp1", ["apiserver"]), before, false); // not a service the requirement counts
    checkSurvivable(fault("cp3"), before, false); // already counted out
  });
});

describe("budgets", () => {
  it("come from the spec's timings, or from drill.budgets where the spec says", () => {
    const spec = baseSpec();
    spec.spec.controlPlane.endpoint.leaseTtlSeconds = 3;
    assert.deepEqual(defaultBudgets(loadObject(spec).cluster), {
      maxOutageMs: 4500,
      nodeLocalProxyFailures: 0,
    });
    spec.spec.controlPlane.endpoint.leaseTtlSeconds = 4;
    spec.spec.etcd = { heartbeatMs: 250, electionMs: 2500 };
    assert.equal(defaultBudgets(loadObject(spec).cluster).maxOutageMs, 6000);
    spec.spec.drill = { budgets: { maxOutageMs: 2000, nodeLocalProxyFailures: 2 } };
    assert.deepEqual(defaultBudgets(loadObject(spec).cluster), {
      maxOutageMs: 2000,
      nodeLocalProxyFailures: 2,
    });
  });
});
