/**
 * The VIP manager's election, hand-over and fence against a real etcd on
 * loopback; the address operations are recorded instead of done (the lab
 * suite does them for real).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sleep, waitFor } from "../../core/wait.js";
import { EtcdClient, readEtcdTls } from "../../etcd/client.js";
import { etcdSkipReason, startOneMember, type TestEtcd } from "../../etcd/etcd-fixtures.js";
import { scratch } from "../../pki/pki-fixtures.js";
import { VipManager } from "./manager.js";
import { Segment } from "./vip-fixtures.js";

describe("VIP manager on a real etcd", { skip: etcdSkipReason() }, () => {
  const dir = scratch("vip-manager");
  const pki = join(dir, "pki");
  let etcd: TestEtcd;
  const clients: EtcdClient[] = [];
  const managers: VipManager[] = [];
  const segment = new Segment();
  const events: Record<string, unknown>[] = [];
  const health = new Map<string, boolean>([
    ["a", true],
    ["b", true],
  ]);

  const manager = (host: string) => {
    const f = (p: string) => join(pki, "hosts/cp1/pki", p);
    const client = new EtcdClient(
      etcd.clientUrls,
      readEtcdTls({
        caFile: f("etcd/ca.crt"),
        certFile: f("kubeha-agent-etcd-client.crt"),
        keyFile: f("kubeha-agent-etcd-client.key"),
      }),
    );
    clients.push(client);
    const m = new VipManager(
      { name: "api", address: "127.0.0.100", leaseTtlSeconds: 1 },
      {
        etcd: client,
        host,
        ops: segment.ops(host),
        healthy: () => health.get(host) === true,
        log: (e) => events.push({ host, ...e }),
      },
    );
    managers.push(m);
    return m;
  };
  const until = (cond: () => boolean, ms: number) => waitFor(cond, ms, 10);

  before(async () => {
    ({ etcd } = await startOneMember("127.0.0.42", dir));
  });
  after(async () => {
    for (const m of managers) await m.stop().catch(() => {});
    for (const c of clients) c.close();
    await etcd.stop();
  });

  it("elects one holder; a clean hand-over on lost health takes well under 300 ms", async () => {
    const a = manager("a");
    const b = manager("b");
    await Promise.all([a.start(), b.start()]);
    assert.ok(await until(() => segment.holding.size === 1, 15_000), "one host holds the address");
    const [first] = [...segment.holding] as [string];
    const other = first === "a" ? "b" : "a";
    const t0 = performance.now();
    health.set(first, false);
    assert.ok(await until(() => segment.holding.has(other), 2000), "the healthy host took over");
    const took = performance.now() - t0;
    assert.ok(took < 300, `hand-over took ${Math.round(took)} ms`);
    assert.equal(segment.maxHolders, 1, "never two holders");
    await sleep(1500);
    health.set(first, true);
    await sleep(1500);
    assert.deepEqual([...segment.holding], [other], "no fail-back when the first host is healthy again");
  });

  it("after an expired lease, waits while another machine answers for the address, and says so", async () => {
    const [holder] = [...segment.holding] as [string];
    // a frozen machine keeps answering ARP for the address: until the kernel drops it, nobody may add it
    segment.holding.add("frozen");
    const etcdClient = clients[0] as EtcdClient;
    const kv = await etcdClient.get("/kubeha/vip/api");
    assert.ok(kv?.lease, "the holder's key is on its lease");
    const from = events.length;
    const revoked = performance.now();
    await etcdClient.leaseRevoke(kv.lease); // as if the lease had expired
    assert.ok(await until(() => !segment.holding.has(holder), 2000), "the holder learnt its lease is gone");
    await sleep(4000);
    assert.deepEqual([...segment.holding], ["frozen"], "no host added the address while it was answered for");
    assert.ok(
      events.slice(from).some((e) => e.kind === "vip-conflict"),
      "a conflict was reported after 3 s of answers",
    );
    assert.notEqual(
      (await etcdClient.get("/kubeha/vip/api"))?.value,
      "",
      "the key is not marked released, which would let the next host skip the probe",
    );
    const freed = performance.now();
    segment.holding.delete("frozen");
    assert.ok(
      await until(() => segment.holding.size === 1, 3000),
      "a host took the address once it was free",
    );
    const early = segment.log.filter((e) => e.op === "hold" && e.at > revoked && e.at < freed);
    assert.deepEqual(early, [], "no host added the address beside the frozen one");
  });

  it("lets go before the lease can expire when etcd stops answering (the fence)", async () => {
    const [holder] = [...segment.holding] as [string];
    const lastHold = () => segment.log.filter((e) => e.host === holder).at(-1)?.at ?? 0;
    const killedAt = performance.now();
    etcd.kill("cp1");
    assert.ok(await until(() => segment.holding.size === 0, 3000), "the holder let go");
    const released = segment.log.at(-1);
    assert.equal(released?.op, "release");
    // the newest renewal was sent at most 200 ms before the kill; the fence is 1000 x 0.999 - 150 ms after it
    const after = (released?.at ?? 0) - killedAt;
    assert.ok(
      after < 1000,
      `released ${Math.round(after)} ms after etcd died, before any lease could expire`,
    );
    assert.ok(lastHold() <= (released?.at ?? 0));
  });
});
