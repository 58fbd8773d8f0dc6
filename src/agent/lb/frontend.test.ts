/** The load balancer with real HTTPS backends on loopback. */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sleep } from "../../core/wait.js";
import { scratch } from "../../pki/pki-fixtures.js";
import { FrontendSchema } from "../config.js";
import { renderMetrics } from "../metrics.js";
import { Frontend, type FrontendEvent } from "./frontend.js";
import { loopbackTls, startBackend, type TestBackend } from "./lb-fixtures.js";

describe("L4 frontend", () => {
  let tls: Awaited<ReturnType<typeof loopbackTls>>;
  let caFile = "";
  const events: FrontendEvent[] = [];

  before(async () => {
    tls = await loopbackTls();
    caFile = join(scratch("lb"), "ca.crt");
    writeFileSync(caFile, tls.ca);
  });

  async function setup(names: string[], extra: string[] = [], drainMs = 5000) {
    const backends = await Promise.all(names.map((n) => startBackend(n, tls)));
    const config = FrontendSchema.parse({
      name: "api",
      listen: "127.0.0.1:0",
      backends: [...backends.map((b) => b.endpoint), ...extra],
      check: { kind: "https", caFile, intervalMs: 100, timeoutMs: 300, fall: 2, rise: 3 },
      connectTimeoutMs: 300,
      drainMs,
    });
    const fe = new Frontend(config, (e) => events.push(e));
    await fe.start();
    return { fe, backends };
  }

  /** One request over a new connection through the frontend: the backend's name, or an error. */
  const get = (fe: Frontend, path = "/") =>
    new Promise<string>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: fe.port, path, ca: tls.ca, agent: false, timeout: 3000 },
        (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve(body));
        },
      );
      req.on("error", reject);
      req.on("timeout", () => req.destroy(new Error("timeout")));
      req.end();
    });

  const cleanup: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of cleanup) await c();
  });

  it("spreads sessions over every backend", async () => {
    const { fe, backends } = await setup(["a", "b", "c"]);
    cleanup.push(() => fe.stop(), ...backends.map((b) => () => b.kill().catch(() => {})));
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) seen.add(await get(fe));
    assert.deepEqual([...seen].sort(), ["a", "b", "c"]);
  });

  it("fails no request while a backend is killed under a client loop", async () => {
    const { fe, backends } = await setup(["a", "b", "c"]);
    cleanup.push(() => fe.stop(), ...backends.map((b) => () => b.kill().catch(() => {})));
    let failed = 0;
    let done = 0;
    const loop = (async () => {
      for (let i = 0; i < 300; i++) {
        try {
          await get(fe);
          done++;
        } catch {
          failed++;
        }
      }
    })();
    await sleep(150);
    await backends[1]?.kill();
    await loop;
    // the one request a sequential client may have in flight on the killed backend after its TLS reply can
    // fail (no L4 proxy can replay it); every other one, and every connect, goes through
    assert.ok(failed <= 1, `${failed} of ${done + failed} requests failed`);
    assert.equal(fe.backends[1]?.state, "down");
  });

  it("never hands a client a backend that refuses, and takes it out at once", async () => {
    const { fe, backends } = await setup(["a"], ["127.0.0.1:1"]);
    cleanup.push(() => fe.stop(), ...backends.map((b) => () => b.kill().catch(() => {})));
    for (let i = 0; i < 20; i++) assert.equal(await get(fe), "a");
    const dead = fe.backends[1];
    assert.equal(dead?.state, "down");
    const text = renderMetrics([fe]);
    assert.match(text, /kubeha_lb_backend_up\{frontend="api",backend="127\.0\.0\.1:1"\} 0/);
    assert.match(
      text,
      new RegExp(
        `kubeha_lb_backend_connects_total\\{frontend="api",backend="${backends[0]?.endpoint}"\\} 20`,
      ),
    );
  });

  /** A long stream through the frontend, to whichever backend it lands on. */
  const openStream = (fe: Frontend) =>
    new Promise<{ name: string; closed: Promise<number> }>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: fe.port, path: "/watch", ca: tls.ca, agent: false },
        (res) => {
          res.once("data", (d) => {
            const closed = new Promise<number>((r) => res.once("close", () => r(Date.now())));
            res.on("error", () => {});
            resolve({ name: String(d).trim(), closed });
          });
        },
      );
      req.on("error", () => {});
      req.once("error", reject);
      req.end();
    });

  it("closes a long stream to a backend that stops answering within 2 s", async () => {
    const { fe, backends } = await setup(["a", "b"]);
    cleanup.push(() => fe.stop(), ...backends.map((b) => () => b.kill().catch(() => {})));
    const stream = await openStream(fe);
    const victim = backends.find((b) => b.name === stream.name) as TestBackend;
    const t0 = Date.now();
    victim.silent = true;
    const closedAt = await Promise.race([stream.closed, sleep(4000).then(() => 0)]);
    assert.ok(closedAt > 0, "the stream was closed");
    assert.ok(closedAt - t0 < 2000, `closed after ${closedAt - t0} ms`);
    const next = await get(fe);
    assert.notEqual(next, stream.name, "new sessions avoid it");
  });

  it("lets the sessions of a backend that answers not ready finish there, and closes them after drainMs", async () => {
    const { fe, backends } = await setup(["a", "b"], [], 1000);
    cleanup.push(() => fe.stop(), ...backends.map((b) => () => b.kill().catch(() => {})));
    const stream = await openStream(fe);
    const victim = backends.find((b) => b.name === stream.name) as TestBackend;
    const t0 = Date.now();
    victim.ready = false;
    await sleep(700); // out of rotation by now: fall 2 x 100 ms, plus a check
    for (let i = 0; i < 4; i++) assert.notEqual(await get(fe), stream.name, "new sessions avoid it");
    const early = await Promise.race([stream.closed, sleep(100).then(() => 0)]);
    assert.equal(early, 0, "the session is still open while the backend drains");
    const closedAt = await Promise.race([stream.closed, sleep(3000).then(() => 0)]);
    assert.ok(closedAt - t0 >= 1000 && closedAt - t0 < 2500, `closed after ${closedAt - t0} ms`);
    assert.ok(
      events.some((e) => e.kind === "backend-down" && e.reason === "drain time over" && e.closed === 1),
    );
  });

  it("brings a backend back only after rise passed checks", async () => {
    const { fe, backends } = await setup(["a", "b"]);
    cleanup.push(() => fe.stop(), ...backends.map((b) => () => b.kill().catch(() => {})));
    const a = backends[0] as TestBackend;
    a.ready = false;
    await sleep(400);
    assert.equal(fe.backends[0]?.state, "down");
    a.ready = true;
    await sleep(150);
    assert.equal(fe.backends[0]?.state, "down", "one good check is not enough");
    await sleep(500);
    assert.equal(fe.backends[0]?.state, "up");
  });

  it("reloads backends without dropping established sessions, and refuses an empty list", async () => {
    const { fe, backends } = await setup(["a", "b"]);
    const extra = await startBackend("c", tls);
    cleanup.push(() => fe.stop(), ...[...backends, extra].map((b) => () => b.kill().catch(() => {})));
    const chunks: string[] = [];
    let closed = false;
    const req = request(
      { host: "127.0.0.1", port: fe.port, path: "/watch", ca: tls.ca, agent: false },
      (res) => {
        res.on("data", (d) => chunks.push(String(d)));
        res.on("close", () => (closed = true));
      },
    );
    req.on("error", () => {});
    req.end();
    await sleep(300);
    const streaming = chunks[0]?.trim();
    fe.setBackends([
      extra.endpoint,
      ...backends.map((b) => b.endpoint).filter((e) => !e.endsWith(String(streaming))),
    ]);
    fe.setBackends([extra.endpoint]);
    await sleep(300);
    assert.equal(closed, false, "the established stream survived both reloads");
    const before = chunks.length;
    await sleep(300);
    assert.ok(chunks.length > before, "and still flows");
    assert.equal(await get(fe), "c");
    assert.throws(() => fe.setBackends([]), /empty backend list/);
    assert.equal(await get(fe), "c");
    assert.ok(events.some((e) => e.kind === "reload-refused"));
    req.destroy();
  });

  it("prefers the backend with the fewest sessions", async () => {
    const { fe, backends } = await setup(["a", "b"]);
    cleanup.push(() => fe.stop(), ...backends.map((b) => () => b.kill().catch(() => {})));
    const held = request({ host: "127.0.0.1", port: fe.port, path: "/watch", ca: tls.ca, agent: false });
    const first = await new Promise<string>((resolve) => {
      held.on("response", (res) => res.once("data", (d) => resolve(String(d).trim())));
      held.on("error", () => {});
      held.end();
    });
    for (let i = 0; i < 10; i++) assert.notEqual(await get(fe), first);
    held.destroy();
  });
});
