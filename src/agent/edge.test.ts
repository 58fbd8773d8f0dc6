/**
 * The ingress edge against a real etcd on loopback: three edges, three
 * ingress VIPs, each edge's controller readiness scripted, the addresses
 * recorded instead of added (the lab suite adds them for real). Placement
 * rules on their own are checked against views built by hand.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sleep, waitFor } from "../core/wait.js";
import { EtcdClient, readEtcdTls } from "../etcd/client.js";
import { etcdSkipReason, startOneMember, type TestEtcd } from "../etcd/etcd-fixtures.js";
import { scratch } from "../pki/pki-fixtures.js";
import type { IngressConfig } from "./config.js";
import { EdgeCoordinator, type EdgeView } from "./edge.js";
import { VipManager } from "./vip/manager.js";
import { Segment } from "./vip/vip-fixtures.js";

const EDGES = ["a", "b", "c"];
const config = (rebalanceQuietMs?: number): IngressConfig => ({
  controller: { url: "http://127.0.0.1:1/ping", intervalMs: 50, timeoutMs: 50, fall: 2, rise: 3 },
  edges: EDGES,
  vips: [1, 2, 3].map((n) => ({ name: `ingress-${n}`, address: `127.0.1.${n}`, leaseTtlSeconds: 1 })),
  ...(rebalanceQuietMs !== undefined && { rebalanceQuietMs }),
});

describe("edge placement rules", () => {
  const now = { t: 10_000 };
  const edge = (host: string) =>
    new EdgeCoordinator(config(1000), {
      etcd: {} as EtcdClient,
      host,
      log: () => {},
      probe: async () => true,
      now: () => now.t,
    });
  /** A view in which every ready edge was first ready at revision 1 and every VIP was taken at revision 2, unless given. */
  const view = (
    ready: string[],
    holders: Record<string, string>,
    firstReady: Record<string, bigint> = Object.fromEntries(ready.map((h) => [h, 1n])),
  ): EdgeView => ({
    ready: new Set(ready),
    holders: new Map(Object.entries(holders)),
    firstReady: new Map(Object.entries(firstReady)),
    taken: new Map(Object.keys(holders).map((name) => [name, 2n])),
  });

  it("leaves a vacant VIP to its preferred edge for a moment, then takes it", () => {
    const b = edge("b");
    now.t += 10_000; // long after start
    const v = view(["a", "b", "c"], {});
    assert.equal(b.shouldYield(0, v, 0), true, "ingress-1 prefers a, which is ready");
    assert.equal(b.shouldYield(0, v, 400), false, "a did not take it within 300 ms");
    assert.equal(b.shouldYield(1, v, 0), false, "ingress-2 prefers b itself");
  });

  it("holds at most ⌈VIPs / ready edges⌉ while others are free, but never leaves a VIP vacant for long", () => {
    const b = edge("b");
    now.t += 10_000;
    const v = view(["a", "b", "c"], { "ingress-2": "b" });
    assert.equal(b.shouldYield(2, v, 500), true, "b holds its share of 1");
    assert.equal(b.shouldYield(2, v, 1000), false, "vacant 1 s: b takes it anyway");
    const twoReady = view(["b", "c"], { "ingress-2": "b" });
    assert.equal(b.shouldYield(0, twoReady, 0), false, "a is gone: ⌈3/2⌉ = 2, b may take a second");
  });

  it("in its first seconds, leaves an edge that has not registered yet time to come up", () => {
    const a = edge("a");
    const v = view(["a"], { "ingress-1": "a" });
    assert.equal(a.shouldYield(1, v, 2000), true, "b may still be starting");
    now.t += 3000;
    assert.equal(a.shouldYield(1, v, 3000), false, "not after 3 s");
  });

  it("hands a VIP to its preferred edge when that edge first became ready after the VIP was taken", () => {
    const a = edge("a");
    now.t += 10_000;
    const holders = { "ingress-1": "a", "ingress-2": "a", "ingress-3": "a" };
    const late = view(["a", "b", "c"], holders, { a: 1n, b: 5n, c: 1n });
    assert.match(
      a.handBackReason(1, late) ?? "",
      /b, the preferred edge of ingress-2, became ready after a took it/,
    );
    assert.equal(a.handBackReason(2, late), undefined, "c was ready before: no fail-back");
    assert.equal(a.handBackReason(0, late), undefined, "ingress-1 prefers a itself");
    const balanced = view(
      ["a", "b", "c"],
      { "ingress-1": "a", "ingress-2": "a", "ingress-3": "c" },
      { a: 1n, b: 5n, c: 1n },
    );
    assert.match(a.handBackReason(1, balanced) ?? "", /hand-back/, "a holds 2, above its share of 1");
    const atShare = view(
      ["a", "b"],
      { "ingress-1": "a", "ingress-2": "a", "ingress-3": "b" },
      { a: 1n, b: 5n },
    );
    assert.equal(a.handBackReason(1, atShare), undefined, "a holds 2 = ⌈3/2⌉: nothing to hand back");
    const notReady = view(["a", "c"], holders, { a: 1n, b: 5n, c: 1n });
    assert.equal(a.handBackReason(1, notReady), undefined, "b is not ready now");
  });

  it("rebalances one VIP at a time from the most loaded edge, after a quiet period", async () => {
    const views: EdgeView[] = [];
    const etcd = {
      list: async (prefix: string) => {
        const v = views[0] as EdgeView;
        const kv = (key: string, value: string) => ({ key, value, createRevision: 1n, modRevision: 2n });
        if (prefix.endsWith("/vip/ingress-"))
          return [...v.holders].map(([name, h]) => kv(`/kubeha/vip/${name}`, h));
        return [...v.ready].map((h) => kv(`${prefix}${h}`, h));
      },
    } as unknown as EtcdClient;
    const a = new EdgeCoordinator(config(1000), { etcd, host: "a", log: () => {}, now: () => now.t });
    views.push(view(["a", "b", "c"], { "ingress-1": "a", "ingress-2": "a", "ingress-3": "c" }));
    await a.refresh();
    assert.equal(a.rebalanceReason(0), undefined, "not quiet yet");
    now.t += 1000;
    assert.equal(a.rebalanceReason(0), undefined, "ingress-1 is a's own preferred VIP");
    assert.match(a.rebalanceReason(1) ?? "", /holds 2 of 3 ingress VIPs, above its share of 1/);
    assert.equal(a.rebalanceReason(1), undefined, "the next move waits another quiet period");
  });
});

describe("ingress VIPs over three edges on a real etcd", { skip: etcdSkipReason() }, () => {
  const dir = scratch("edge");
  const pki = join(dir, "pki");
  let etcd: TestEtcd;
  const segments = new Map(config().vips.map((v) => [v.name, new Segment()]));
  const ready = new Map(EDGES.map((h) => [h, true]));
  type Edge = { client: EtcdClient; coordinator: EdgeCoordinator; vips: VipManager[] };
  const running = new Map<string, Edge>();
  const events: Record<string, unknown>[] = [];

  const startEdge = async (host: string, cfg = config()) => {
    const f = (p: string) => join(pki, "hosts/cp1/pki", p);
    const client = new EtcdClient(
      etcd.clientUrls,
      readEtcdTls({
        caFile: f("etcd/ca.crt"),
        certFile: f("kubeha-agent-etcd-client.crt"),
        keyFile: f("kubeha-agent-etcd-client.key"),
      }),
    );
    const log = (e: Record<string, unknown>) => events.push({ host, ...e });
    const coordinator = new EdgeCoordinator(cfg, {
      etcd: client,
      host,
      log,
      probe: async () => ready.get(host) === true,
    });
    const vips = cfg.vips.map(
      (v, i) =>
        new VipManager(v, {
          etcd: client,
          host,
          ops: (segments.get(v.name) as Segment).ops(host),
          healthy: () => coordinator.isServing,
          placement: coordinator.placement(i),
          log,
        }),
    );
    await coordinator.start();
    await Promise.all(vips.map((m) => m.start()));
    running.set(host, { client, coordinator, vips });
  };
  /** A planned stop, as the agent does it: leave the ready set, then release. */
  const stopEdge = async (host: string) => {
    const e = running.get(host) as Edge;
    running.delete(host);
    await e.coordinator.leave();
    await Promise.all(e.vips.map((m) => m.stop()));
    e.client.close();
  };
  const holders = () =>
    new Map([...segments].map(([name, s]) => [name, [...s.holding].sort().join("+") || "-"]));
  const counts = () => {
    const c = new Map<string, number>();
    for (const h of holders().values()) c.set(h, (c.get(h) ?? 0) + 1);
    return c;
  };
  const until = (cond: () => boolean, ms: number) => waitFor(cond, ms, 10);
  after(() => {
    if (process.env.KUBEHA_TEST_DEBUG) console.log(events);
  });
  const neverTwo = () => [...segments.values()].every((s) => s.maxHolders <= 1);

  before(async () => {
    ({ etcd } = await startOneMember("127.0.0.43", dir));
  });
  after(async () => {
    for (const h of [...running.keys()]) await stopEdge(h).catch(() => {});
    await etcd.stop();
  });

  it("controllers ready one after another still end with one VIP on every edge, each on its preferred edge", async () => {
    ready.set("b", false);
    ready.set("c", false);
    await Promise.all(EDGES.map((h) => startEdge(h)));
    assert.ok(await until(() => counts().get("a") === 3, 10_000), "a, alone ready, holds all three");
    ready.set("b", true);
    assert.ok(await until(() => holders().get("ingress-2") === "b", 5000), "b got ingress-2 once ready");
    ready.set("c", true);
    assert.ok(await until(() => holders().get("ingress-3") === "c", 5000), "c got ingress-3 once ready");
    await sleep(500);
    assert.deepEqual(Object.fromEntries(holders()), { "ingress-1": "a", "ingress-2": "b", "ingress-3": "c" });
    const handBacks = events.filter(
      (e) => e.kind === "vip-released" && String(e.reason).startsWith("hand-back"),
    );
    assert.equal(handBacks.length, 2, "each moved once");
    assert.ok(neverTwo(), "never two holders of one VIP");
  });

  it("moves a VIP off an edge whose controller turns unready, at once, to an edge below its share", async () => {
    const t0 = performance.now();
    ready.set("b", false);
    assert.ok(await until(() => holders().get("ingress-2") !== "b", 3000), "ingress-2 left b");
    assert.ok(await until(() => holders().get("ingress-2") !== "-", 2000), "and found a holder");
    const took = performance.now() - t0;
    // fall = 2 checks of 50 ms, deregistration, a clean hand-over: no lease expiry in the way
    assert.ok(took < 1000, `moved in ${Math.round(took)} ms`);
    const c = counts();
    assert.equal(c.get("b"), undefined, "b holds none");
    assert.deepEqual([c.get("a"), c.get("c")].sort(), [1, 2], "a and c share the three");
    assert.ok(["a", "c"].includes(holders().get("ingress-2") as string));
    assert.equal(
      events.some((e) => e.host === "b" && e.kind === "edge-deregistered"),
      true,
    );
  });

  it("does not fail back when the controller is ready again", async () => {
    const before = Object.fromEntries(holders());
    ready.set("b", true);
    const registered = () => events.filter((e) => e.host === "b" && e.kind === "edge-registered").length;
    assert.ok(await until(() => registered() === 2, 3000), "b registered again");
    await sleep(2500);
    assert.deepEqual(Object.fromEntries(holders()), before, "nothing moved back to b");
    assert.equal(counts().get("b"), undefined, "b holds none");
  });

  it("a planned stop of an edge moves its VIPs to the others, never two holders", async () => {
    const a = [...holders()].filter(([, h]) => h === "a").map(([n]) => n);
    assert.ok(a.length > 0, "a holds something");
    await stopEdge("a");
    assert.ok(
      await until(() => a.every((n) => !["a", "-"].includes(holders().get(n) as string)), 2000),
      "a's VIPs went to b and c",
    );
    const c = counts();
    assert.ok((c.get("b") ?? 0) >= 1 && (c.get("c") ?? 0) >= 1, `both survivors serve: ${[...c]}`);
    assert.ok(neverTwo(), "never two holders of one VIP");
  });

  it("a dead edge's VIPs move once its leases expire", async () => {
    const e = running.get("c") as Edge;
    const mine = [...holders()].filter(([, h]) => h === "c").map(([n]) => n);
    running.delete("c");
    e.client.close(); // no more renewals: the fence drops the addresses, the leases expire
    assert.ok(
      await until(() => mine.every((n) => holders().get(n) === "b"), 6000),
      `c's VIPs (${mine}) moved to b`,
    );
    assert.ok(neverTwo(), "never two holders of one VIP");
    for (const m of e.vips) await m.stop().catch(() => {});
    await e.coordinator.leave().catch(() => {});
  });

  it("with rebalance on, a returning edge gets VIPs back, one at a time", async () => {
    for (const h of [...running.keys()]) await stopEdge(h);
    for (const s of segments.values()) s.holding.clear();
    await startEdge("b", config(1000));
    assert.ok(await until(() => counts().get("b") === 3, 8000), "b alone holds all three");
    await startEdge("a", config(1000));
    await startEdge("c", config(1000));
    assert.ok(
      await until(
        () => counts().get("a") === 1 && counts().get("b") === 1 && counts().get("c") === 1,
        10_000,
      ),
      `balanced again: ${[...counts()]}`,
    );
    const moves = events.filter((e) => e.kind === "vip-released" && String(e.reason).startsWith("rebalance"));
    assert.equal(moves.length, 2, "two VIPs moved, each by a rebalance");
    assert.ok(neverTwo(), "never two holders of one VIP");
  });
});
