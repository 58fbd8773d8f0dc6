/**
 * The ingress edge on real lab hosts: cp1..cp3 and two edges, each edge
 * running the lab's ingress controller (real nginx on host network) and one
 * ingress VIP per edge. Requests come from this machine (the lab bridge), a
 * client outside every edge. Every test watches each VIP on every edge
 * (kernel address events) and requires that two edges never held one at once.
 * Bounds are loose so they cannot flake; bench/ingress.mjs measures.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, afterEach, before, beforeEach, describe, it } from "node:test";
import { upLab } from "../actions/up-fixtures.js";
import { Unit } from "../core/host-paths.js";
import { sleep, waitFor } from "../core/wait.js";
import { Lab } from "../lab/lab.js";
import { controlPlaneLab, labScratch, labSkipReason, startClientLoop } from "../lab/lab-fixtures.js";
import { HoldWatch } from "./vip/vip-fixtures.js";

const log = (line: string) => process.stderr.write(`# lab: ${line}\n`);
const EDGES = ["edge1", "edge2"];

describe("ingress VIPs on lab edges", { skip: labSkipReason() }, () => {
  const work = labScratch("ingress");
  const labDir = join(work, "lab");
  let lab: Lab;
  let vips: readonly string[] = [];
  let watches: HoldWatch[] = [];

  const running = () =>
    lab
      .status()
      .filter((s) => s.running && EDGES.includes(s.name))
      .map((s) => s.name);
  const holdersOf = (vip: string) =>
    running().filter((h) => lab.ssh(h, `ip -o addr show to ${vip}/32`).stdout.includes(`${vip}/32`));
  /** Each VIP's one holder, or undefined for a VIP with none or two. */
  const placement = () =>
    vips.map((v) => {
      const hs = holdersOf(v);
      return hs.length === 1 ? hs[0] : undefined;
    });
  const get = async (vip: string) => {
    const res = await fetch(`http://${vip}/`, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: (await res.text()).trim() };
  };

  before(async () => {
    lab = await controlPlaneLab(labDir, "192.168.238.0/24", [], log, EDGES);
    vips = lab.topology.ingressVips;
    await upLab(work, labDir);
  });
  after(async () => {
    await Lab.down(labDir, log);
  });
  beforeEach(async () => {
    for (const e of EDGES) if (!running().includes(e)) await lab.start(e);
    assert.ok(
      await waitFor(() => placement().every(Boolean), 20_000, 200),
      `every ingress VIP has one holder before the test: ${placement()}`,
    );
    watches = vips.map(
      (v) =>
        new HoldWatch(
          labDir,
          EDGES.map((h) => lab.host(h)),
          v,
        ),
    );
    await HoldWatch.settle();
  });
  afterEach(() => {
    for (const [i, w] of watches.entries()) {
      w.stop();
      assert.equal(w.overlapMs(), 0, `ms during which two edges held ${vips[i]}`);
    }
  });

  it("up puts one ingress VIP on each edge, answered by its holder with the client's own address", async () => {
    const holders = placement();
    assert.deepEqual([...holders].sort(), EDGES, "one VIP per edge");
    for (const [i, vip] of vips.entries()) {
      const { status, body } = await get(vip);
      assert.equal(status, 200);
      assert.equal(
        body,
        `${holders[i]} ${lab.topology.bridgeAddress}`,
        "the holder answered and saw this machine",
      );
    }
    // from a lab host too: the address it sees is that host's own
    const cp1 = lab.host("cp1");
    const r = lab.ssh("cp1", `curl -s -m 2 http://${vips[0]}/`);
    assert.equal(r.stdout.trim(), `${holders[0]} ${cp1.address}`);
  });

  it("a stopped controller's VIP moves before it stops accepting: no failed request, and no fail-back", async () => {
    const holders = placement() as string[];
    const edge = holders[0] as string;
    const other = EDGES.find((e) => e !== edge) as string;
    const clients = vips.map((v) => startClientLoop({ url: `http://${v}/`, maxMs: 40_000 }));
    await sleep(1000);
    lab.ssh(edge, `systemctl stop ${Unit.ingress}`);
    assert.ok(
      await waitFor(() => placement().every((h) => h === other), 10_000, 200),
      `both VIPs on ${other}: ${placement()}`,
    );
    await sleep(1000);
    const tallies = await Promise.all(clients.map((c) => c.stop()));
    for (const [i, t] of tallies.entries()) {
      assert.equal(t.failed, 0, `failed requests to ${vips[i]}: ${JSON.stringify(t.errors)}`);
      assert.ok(t.ok > 20, `requests to ${vips[i]} were made: ${t.ok}`);
    }
    assert.ok((tallies[0]?.by[other] ?? 0) > 0, `${other} answered on ${vips[0]} after the move`);
    // ready again: its VIP stays on the other edge (a move resets connections)
    lab.ssh(edge, `systemctl start ${Unit.ingress}`);
    await sleep(5000);
    assert.deepEqual(placement(), [other, other], "no fail-back");
  });

  it("a planned stop of the holder's agent moves its VIPs with no failed request", async () => {
    const edge = placement()[0] as string;
    const client = startClientLoop({ url: `http://${vips[0]}/`, maxMs: 30_000 });
    await sleep(1000);
    lab.ssh(edge, `systemctl stop ${Unit.agent}`);
    try {
      assert.ok(
        await waitFor(() => placement().every((h) => h && h !== edge), 10_000, 200),
        `every VIP left ${edge}: ${placement()}`,
      );
      await sleep(1000);
      const t = await client.stop();
      assert.equal(t.failed, 0, `failed requests: ${JSON.stringify(t.errors)}`);
    } finally {
      lab.ssh(edge, `systemctl start ${Unit.agent}`);
    }
  });

  it("an edge powered off: its VIPs move once its leases expire, and requests succeed again", async () => {
    const dead = placement()[0] as string;
    const other = EDGES.find((e) => e !== dead) as string;
    const t0 = Date.now();
    await lab.kill(dead);
    assert.ok(
      await waitFor(() => placement().every((h) => h === other), 15_000, 100),
      `${other} holds every VIP: ${placement()}`,
    );
    const moved = Date.now() - t0;
    assert.ok(moved < 10_000, `moved in ${moved} ms`);
    let answer = { status: 0, body: "" };
    assert.ok(
      await waitFor(async () => {
        answer = await get(vips[0] as string).catch(() => answer);
        return answer.status === 200;
      }, 5000),
      "requests to the dead edge's VIP succeed again",
    );
    assert.match(answer.body, new RegExp(`^${other} `));
    await lab.start(dead);
    assert.ok(await waitFor(() => running().includes(dead), 30_000, 500));
    await sleep(8000); // its agent is up and its controller ready by now
    assert.deepEqual(placement(), [other, other], "the returning edge gets no VIP back");
  });
});
