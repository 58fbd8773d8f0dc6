/** The parsers of etcdctl's output, fed by a real etcdctl against a real member over mutual TLS. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { waitFor } from "../core/wait.js";
import { scratch } from "../pki/pki-fixtures.js";
import { EtcdClient, readEtcdTls } from "./client.js";
import { etcdSkipReason, startOneMember, type TestEtcd } from "./etcd-fixtures.js";
import {
  parseAlarms,
  parseEndpointStatus,
  parseEtcdJson,
  parseGetJson,
  parseHashKv,
  parseMemberListJson,
} from "./etcdctl.js";

describe("etcdctl output", { skip: etcdSkipReason() }, () => {
  const dir = scratch("etcdctl-parse");
  const host = (f: string) => join(dir, "pki/hosts/cp1/pki", f);
  let etcd: TestEtcd;
  const etcdctl = (args: string) =>
    new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(
        "sh",
        [
          "-c",
          `ETCDCTL_API=3 etcdctl --endpoints=${etcd.clientUrls.join(",")} --cacert=${host("etcd/ca.crt")} --cert=${host("etcd/healthcheck-client.crt")} --key=${host("etcd/healthcheck-client.key")} ${args}`,
        ],
        (err, stdout) => resolve({ code: err ? 1 : 0, stdout }),
      ),
    );

  before(async () => {
    ({ etcd } = await startOneMember("127.0.0.43", dir));
    assert.ok(await waitFor(async () => (await etcdctl("endpoint health")).code === 0, 10_000));
  });
  after(() => etcd.stop());

  it("keeps 64-bit ids exact", () => {
    const parsed = parseEtcdJson('{"header":{"member_id":18446744073709551557},"ID":9007199254740993}') as {
      header: { member_id: string };
      ID: string;
    };
    assert.equal(parsed.header.member_id, "18446744073709551557");
    assert.equal(parsed.ID, "9007199254740993");
  });

  it("reads endpoint status, member list and hashkv of one member consistently", async () => {
    await etcdctl("put /kubeha/test a");
    const [status] = parseEndpointStatus((await etcdctl("endpoint status -w json")).stdout);
    assert.ok(status);
    assert.equal(status.endpoint, etcd.clientUrls[0]);
    assert.equal(status.leader, status.memberId, "a single member leads");
    assert.match(status.memberId, /^\d{5,}$/);
    assert.ok(status.revision >= 2 && status.raftTerm >= 1 && status.raftIndex >= status.revision);
    assert.ok(status.dbSize > 0 && status.dbSizeInUse <= status.dbSize);
    assert.equal(status.isLearner, false);
    assert.match(status.version, /^3\./);

    const members = parseMemberListJson((await etcdctl("member list -w json")).stdout);
    assert.deepEqual(members, [{ id: status.memberId, name: "cp1", isLearner: false }]);

    const hashes = parseHashKv((await etcdctl(`endpoint hashkv --rev=${status.revision} -w json`)).stdout);
    assert.equal(hashes.length, 1);
    assert.ok((hashes[0]?.hash ?? 0) > 0);
  });

  it("says over gRPC what etcdctl says: status, member list, alarms, key-space hash", async () => {
    const client = new EtcdClient(
      etcd.clientUrls,
      readEtcdTls({
        caFile: host("etcd/ca.crt"),
        certFile: host("etcd/healthcheck-client.crt"),
        keyFile: host("etcd/healthcheck-client.key"),
      }),
    );
    try {
      const [viaCtl] = parseEndpointStatus((await etcdctl("endpoint status -w json")).stdout);
      const viaGrpc = await client.status(0);
      const pick = (s: typeof viaGrpc | undefined) => ({
        endpoint: s?.endpoint,
        clusterId: s?.clusterId,
        memberId: s?.memberId,
        leader: s?.leader,
        raftTerm: s?.raftTerm,
        isLearner: s?.isLearner,
        version: s?.version,
        errors: s?.errors,
      });
      assert.deepEqual(pick(viaGrpc), pick(viaCtl));
      assert.ok(viaGrpc.dbSize > 0 && viaGrpc.raftIndex > 0 && viaGrpc.raftAppliedIndex > 0);
      assert.deepEqual(
        await client.memberList(0),
        parseMemberListJson((await etcdctl("member list -w json")).stdout),
      );
      assert.deepEqual(await client.alarms(0), []);
      const revision = viaGrpc.revision;
      const [ctlHash] = parseHashKv((await etcdctl(`endpoint hashkv --rev=${revision} -w json`)).stdout);
      assert.equal(await client.hashKv(0, revision), ctlHash?.hash);
    } finally {
      client.close();
    }
  });

  it("reads keys with their lease", async () => {
    const grant = (await etcdctl("lease grant 30")).stdout; // "lease 694d7a... granted with TTL(30s)"
    const hex = /lease ([0-9a-f]+) granted/.exec(grant)?.[1] ?? "";
    assert.notEqual(hex, "");
    await etcdctl(`put --lease=${hex} /kubeha/vip/test cp1`);
    const [kv] = parseGetJson((await etcdctl("get /kubeha/vip/ --prefix -w json")).stdout);
    assert.equal(kv?.key, "/kubeha/vip/test");
    assert.equal(kv?.value, "cp1");
    // etcdctl prints the id as 16 hex digits, leading zeros included
    assert.equal(BigInt(kv?.lease ?? "0"), BigInt(`0x${hex}`));
    assert.ok((kv?.createRevision ?? 0) > 0 && kv?.modRevision === kv?.createRevision);
  });

  it("reads alarms", () => {
    assert.deepEqual(parseAlarms(""), []);
    assert.deepEqual(parseAlarms("memberID:9372538179322589801 alarm:NOSPACE \n"), [
      "NOSPACE on member 9372538179322589801",
    ]);
  });
});
