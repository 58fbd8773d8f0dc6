/** Snapshot files as etcd streams them: etcd's own hash, the manifest check, and etcd's account of a file. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ExpectedExit } from "../core/errors.js";
import { sha256 } from "../core/hash.js";
import { waitFor } from "../core/wait.js";
import { scratch } from "../pki/pki-fixtures.js";
import { etcdSkipReason, startOneMember, type TestEtcd } from "./etcd-fixtures.js";
import { checkEtcdHash, manifestPathOf, verifySnapshot } from "./snapshot-file.js";
import { parseHostSnapshots, parseSnapshotStatus } from "./snapshot-host.js";

describe("etcd snapshot files", { skip: etcdSkipReason() }, () => {
  const dir = scratch("snapshot-file");
  const host = (f: string) => join(dir, "pki/hosts/cp1/pki", f);
  let etcd: TestEtcd;
  const sh = (cmd: string) =>
    new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile("sh", ["-c", cmd], (err, stdout) => resolve({ code: err ? 1 : 0, stdout })),
    );
  const etcdctl = (args: string) =>
    sh(
      `ETCDCTL_API=3 etcdctl --endpoints=${etcd.clientUrls.join(",")} --cacert=${host("etcd/ca.crt")} --cert=${host("etcd/healthcheck-client.crt")} --key=${host("etcd/healthcheck-client.key")} ${args}`,
    );
  const db = join(dir, "s.db");

  before(async () => {
    ({ etcd } = await startOneMember("127.0.0.47", dir));
    assert.ok(await waitFor(async () => (await etcdctl("endpoint health")).code === 0, 10_000));
    for (let i = 0; i < 20; i++) assert.equal((await etcdctl(`put /t/${i} v${i}`)).code, 0);
    assert.equal((await etcdctl(`snapshot save ${db}`)).code, 0);
  });
  after(() => etcd.stop());

  it("accepts what etcd streamed and refuses a changed byte or a cut file, saying which", () => {
    const bytes = readFileSync(db);
    assert.equal(checkEtcdHash(bytes), undefined);
    const flipped = Buffer.from(bytes);
    flipped[4096] = (flipped[4096] ?? 0) ^ 0xff;
    assert.match(checkEtcdHash(flipped) ?? "", /does not match the SHA-256 etcd wrote at its end/);
    assert.match(
      checkEtcdHash(bytes.subarray(0, bytes.length - 100)) ?? "",
      /not that of a snapshot etcd streamed/,
    );
  });

  it("checks a snapshot against its manifest, and refuses one that does not match it", () => {
    const bytes = readFileSync(db);
    writeFileSync(
      manifestPathOf(db),
      JSON.stringify({ format: "kubeha-etcd-snapshot/1", size: bytes.length, sha256: sha256(bytes) }),
    );
    assert.equal(verifySnapshot(db).sha256, sha256(bytes));
    const copy = join(dir, "other.db");
    writeFileSync(copy, bytes);
    writeFileSync(
      manifestPathOf(copy),
      JSON.stringify({ format: "kubeha-etcd-snapshot/1", size: bytes.length, sha256: "0".repeat(64) }),
    );
    assert.throws(
      () => verifySnapshot(copy),
      (e: unknown) =>
        e instanceof ExpectedExit && e.code === "SNAPSHOT_INVALID" && /is not the manifest's/.test(e.message),
    );
    assert.throws(() => verifySnapshot(join(dir, "missing.db")), /there is no such file/);
  });

  it("reads etcd's account of a snapshot file (revision, keys) from the real tool", async () => {
    const r = await sh(`ETCDCTL_API=3 etcdctl snapshot status ${db} -w json`);
    const s = parseSnapshotStatus(r.stdout);
    assert.ok(s.revision >= 21, `revision ${s.revision}`);
    assert.ok(s.totalKey >= 20, `keys ${s.totalKey}`);
    assert.ok(s.hash > 0);
  });

  it("lists a host's snapshots newest first from find's lines", () => {
    const list = parseHostSnapshots(
      "cp1",
      "1700000000.5 20512 scheduled-a.db\n1700000100.1 30720 scheduled-b.db\n\n",
    );
    assert.deepEqual(
      list.map((s) => [s.name, s.size]),
      [
        ["scheduled-b.db", 30720],
        ["scheduled-a.db", 20512],
      ],
    );
  });
});
