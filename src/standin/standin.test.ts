/** The apiserver stand-in against a real etcd over mutual TLS. */
import assert from "node:assert/strict";
import { request } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sleep } from "../core/wait.js";
import { etcdSkipReason, startOneMember, type TestEtcd } from "../etcd/etcd-fixtures.js";
import { scratch } from "../pki/pki-fixtures.js";
import { StandinConfigSchema } from "./config.js";
import { type RunningStandin, startStandin } from "./standin.js";

describe("apiserver stand-in", { skip: etcdSkipReason() }, () => {
  const dir = scratch("standin");
  const pki = join(dir, "pki");
  let etcd: TestEtcd;
  let standin: RunningStandin;
  let ca = "";

  const get = (path: string) =>
    new Promise<{ status: number; body: string; standin: string | undefined }>((resolve, reject) => {
      const req = request(
        { host: "127.0.0.31", port: standin.port, path, ca, agent: false, timeout: 4000 },
        (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body,
              standin: res.headers["x-kubeha-standin"] as string | undefined,
            }),
          );
        },
      );
      req.on("error", reject);
      req.end();
    });

  before(async () => {
    ({ etcd } = await startOneMember("127.0.0.31", dir));
    const { readFileSync } = await import("node:fs");
    ca = readFileSync(join(pki, "ca.crt"), "utf8");
    const host = (f: string) => join(pki, "hosts/cp1/pki", f);
    standin = await startStandin(
      StandinConfigSchema.parse({
        host: "cp1",
        listen: "127.0.0.31:0",
        certFile: host("apiserver.crt"),
        keyFile: host("apiserver.key"),
        etcd: {
          endpoints: etcd.clientUrls,
          caFile: host("etcd/ca.crt"),
          certFile: host("apiserver-etcd-client.crt"),
          keyFile: host("apiserver-etcd-client.key"),
        },
        shutdownDelayMs: 800,
      }),
    );
    for (let i = 0; i < 60 && (await get("/readyz")).status !== 200; i++) await sleep(250);
  });
  after(async () => {
    await etcd.stop();
  });

  it("serves TLS with the apiserver certificate and says it is a stand-in", async () => {
    const version = await get("/version");
    assert.equal(version.status, 200);
    assert.equal(JSON.parse(version.body).standin, true);
    assert.match(JSON.parse(version.body).gitVersion, /kubeha-standin/);
    assert.equal(version.standin, "true");
    assert.equal((await get("/livez")).status, 200);
  });

  it("is ready while an etcd read succeeds, and not when etcd is gone", async () => {
    assert.equal((await get("/readyz")).status, 200);
    etcd.kill("cp1");
    await sleep(200);
    const t0 = Date.now();
    const r = await get("/readyz");
    assert.equal(r.status, 503);
    assert.match(r.body, /etcd read failed/);
    assert.ok(Date.now() - t0 < 2600, "answers within the 2 s read bound");
    assert.equal((await get("/livez")).status, 200, "still live");
  });

  it("fails /readyz at once on shutdown, serves through the delay, then closes", async () => {
    const done = standin.shutdown();
    const r = await get("/readyz");
    assert.equal(r.status, 503);
    assert.match(r.body, /shutting down/);
    assert.equal((await get("/livez")).status, 200, "still serving during the delay");
    await done;
    await assert.rejects(get("/livez"), /ECONNREFUSED/, "closed after the delay");
  });
});
