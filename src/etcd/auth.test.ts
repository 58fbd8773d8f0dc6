/** The gRPC client and CN-mapped etcd auth against a real etcd over mutual TLS. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sleep } from "../core/wait.js";
import { scratch } from "../pki/pki-fixtures.js";
import type { ExecResult } from "../transport/transport.js";
import { authSteps, type Etcdctl, ensureAuth, readAuthState } from "./auth.js";
import { EtcdClient, EtcdError, readEtcdTls } from "./client.js";
import { etcdSkipReason, startOneMember, type TestEtcd } from "./etcd-fixtures.js";

describe("etcd client and auth", { skip: etcdSkipReason() }, () => {
  const dir = scratch("etcd-auth");
  const pki = join(dir, "pki");
  const host = (f: string) => join(pki, "hosts/cp1/pki", f);
  let etcd: TestEtcd;
  let etcdctl: Etcdctl;
  const clients: EtcdClient[] = [];
  const client = (cert: string) => {
    const c = new EtcdClient(
      etcd.clientUrls,
      readEtcdTls({
        caFile: host("etcd/ca.crt"),
        certFile: host(`${cert}.crt`),
        keyFile: host(`${cert}.key`),
      }),
    );
    clients.push(c);
    return c;
  };

  before(async () => {
    ({ etcd } = await startOneMember("127.0.0.41", dir));
    const tls = `--cacert=${host("etcd/ca.crt")} --cert=${host("etcd/healthcheck-client.crt")} --key=${host("etcd/healthcheck-client.key")}`;
    etcdctl = (args) =>
      new Promise<ExecResult>((resolve) =>
        execFile(
          "sh",
          ["-c", `ETCDCTL_API=3 etcdctl --endpoints=${etcd.clientUrls.join(",")} ${tls} ${args}`],
          (err, stdout, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
        ),
      );
    const c = client("apiserver-etcd-client");
    for (let i = 0; i < 40; i++) {
      if (
        await c.get("/ready-probe").then(
          () => true,
          () => false,
        )
      )
        break;
      await sleep(250);
    }
  });
  after(async () => {
    for (const c of clients) c.close();
    await etcd.stop();
  });

  it("puts, reads, compares and swaps, and keeps leases alive over gRPC", async () => {
    const c = client("apiserver-etcd-client");
    await c.put("/kubeha/test/a", "one");
    assert.equal((await c.get("/kubeha/test/a"))?.value, "one");
    assert.equal(await c.get("/kubeha/test/absent"), undefined);
    const lease = await c.leaseGrant(5);
    assert.equal(lease.ttl, 5);
    const first = await c.txn(
      [{ key: "/kubeha/test/held", target: "create", equals: 0n }],
      [{ put: "/kubeha/test/held", value: "me", lease: lease.id }],
      [{ range: "/kubeha/test/held" }],
    );
    assert.equal(first.succeeded, true);
    const second = await c.txn(
      [{ key: "/kubeha/test/held", target: "create", equals: 0n }],
      [{ put: "/kubeha/test/held", value: "other" }],
      [{ range: "/kubeha/test/held" }],
    );
    assert.equal(second.succeeded, false, "a second campaign loses");
    assert.equal(second.kv?.value, "me");
    assert.equal(second.kv?.lease, lease.id);

    const acks = await new Promise<number[]>((resolve, reject) => {
      const ttls: number[] = [];
      const ka = c.keepAlive(
        lease.id,
        (ttl) => {
          ttls.push(ttl);
          if (ttls.length === 3) {
            ka.close();
            resolve(ttls);
          } else ka.send();
        },
        reject,
      );
      ka.send();
    });
    assert.deepEqual(acks, [5, 5, 5]);
    await c.leaseRevoke(lease.id);
    assert.equal(await c.get("/kubeha/test/held"), undefined, "revoking the lease deletes the key");
  });

  it("turns auth on once; the agent's certificate is refused outside /kubeha/", async () => {
    assert.equal((await readAuthState(etcdctl)).enabled, false);
    const did = await ensureAuth(etcdctl);
    assert.ok(did.includes("enable etcd authentication"), did.join("; "));
    assert.ok(did.some((d) => /read and write \/kubeha\/ only/.test(d)));
    const state = await readAuthState(etcdctl);
    assert.equal(state.enabled, true);
    assert.deepEqual(authSteps(state), [], "a second run has nothing to do");

    const agent = client("kubeha-agent-etcd-client");
    await agent.put("/kubeha/vip/api", "cp1");
    assert.equal((await agent.get("/kubeha/vip/api"))?.value, "cp1");
    const lease = await agent.leaseGrant(2);
    await agent.put("/kubeha/vip/leased", "cp1", lease.id);
    await agent.leaseRevoke(lease.id);
    assert.equal(await agent.isLeader(0), true, "the agent may ask its member whether it leads");
    const denied = (err: unknown) => err instanceof EtcdError && err.permissionDenied;
    await assert.rejects(agent.put("/registry/pods/x", "no"), denied);
    await assert.rejects(agent.get("/registry/pods/x"), denied);
    await assert.rejects(agent.put("/kubeha", "no"), denied, "the prefix is /kubeha/, not /kubeha");

    const apiserver = client("apiserver-etcd-client");
    await apiserver.put("/registry/pods/x", "yes");
    assert.equal((await apiserver.get("/registry/pods/x"))?.value, "yes");
    assert.equal((await apiserver.get("/kubeha/vip/api"))?.value, "cp1");
  });
});
