/**
 * etcd snapshots and disaster recovery on lab hosts, through the command
 * line as an operator runs it: scheduled snapshots on one member with
 * retention; a snapshot saved here under a writer, with its manifest and
 * sealed PKI; refusals (a damaged snapshot, a healthy quorum) before
 * anything stops; a restore after two of three members lost their data,
 * interrupted and run again; and a restore onto a replaced host with
 * another name and address.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { parse, stringify } from "yaml";
import { sha256 } from "../core/hash.js";
import { packageRoot } from "../core/package-info.js";
import { sleep, waitFor } from "../core/wait.js";
import type { SnapshotManifest } from "../etcd/snapshot-file.js";
import { Lab } from "../lab/lab.js";
import { etcdAccessEnv, labScratch, labSkipReason } from "../lab/lab-fixtures.js";
import { labTopology } from "../lab/lab-spec.js";
import { loadCluster } from "../plan/load.js";
import type { Role } from "../spec/schema.js";
import { up } from "./up.js";
import { quiet } from "./up-fixtures.js";

const log = (line: string) => process.stderr.write(`# lab: ${line}\n`);
const bin = fileURLToPath(new URL("bin/kubeha.js", packageRoot));
const PASSPHRASE = "a passphrase for the lab's PKI bundle";

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

describe("etcd snapshots and restore on lab hosts", { skip: labSkipReason() }, () => {
  const work = labScratch("restore");
  const labDir = join(work, "lab");
  const specFile = join(work, "cluster.yaml");
  const stateDir = join(work, "state");
  const snapDir = join(work, "snapshots");
  let lab: Lab;
  let spec: any;
  let saved: string;
  /** Keys acknowledged before the snapshot was started: a restore must give back every one. */
  let beforeSave: string[] = [];

  const writeSpec = () => writeFileSync(specFile, stringify(spec));
  const env = { ...process.env, KUBEHA_SNAPSHOT_PASSPHRASE: PASSPHRASE };
  /** kubeha's command line; `onLine` sees its output as it comes and may end it (SIGKILL) by returning true. */
  const kubeha = (args: string[], onLine?: (line: string) => boolean) =>
    new Promise<Run>((resolve) => {
      // every command with the spec gets the test's state directory
      const all = args.includes("-f") ? [...args, "--state", stateDir] : args;
      const p = spawn(process.execPath, [bin, ...all], { env });
      let stdout = "";
      let stderr = "";
      p.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
        for (const line of d.split("\n")) if (onLine?.(line)) p.kill("SIGKILL");
      });
      p.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      p.once("close", (code) => resolve({ code: code ?? 137, stdout, stderr }));
    });
  /** etcdctl from this machine through the access file `up` wrote. */
  const access = () => etcdAccessEnv(stateDir);
  const etcdctl = (args: string[]) =>
    new Promise<Run>((resolve) => {
      const p = spawn("etcdctl", ["--dial-timeout=2s", "--command-timeout=3s", ...args], { env: access() });
      let stdout = "";
      let stderr = "";
      p.stdout.setEncoding("utf8").on("data", (d: string) => {
        stdout += d;
      });
      p.stderr.setEncoding("utf8").on("data", (d: string) => {
        stderr += d;
      });
      p.once("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  /** Powers `hosts` off and on again with their etcd data gone, etcd left stopped (a lost disk). */
  const loseData = async (hosts: readonly string[]) => {
    for (const h of hosts) lab.ssh(h, "systemctl disable etcd 2>&1");
    for (const h of hosts) await lab.kill(h);
    for (const h of hosts) {
      await lab.start(h);
      lab.ssh(h, "systemctl stop etcd; rm -rf /var/lib/etcd/kubeha /etc/kubeha/etcd-bootstrap.env");
    }
  };
  const membersOf = async () =>
    (await etcdctl(["member", "list"])).stdout
      .trim()
      .split("\n")
      .map((l) => l.split(", ")[2])
      .sort();

  before(async () => {
    const hosts = ["cp1", "cp2", "cp3", "cp4"].map((name) => ({
      name,
      roles: ["controlplane", "etcd"] as Role[],
    }));
    lab = await Lab.up(labDir, labTopology(hosts, "192.168.236.0/24"), log);
    spec = parse(readFileSync(join(labDir, "cluster.yaml"), "utf8"));
    // cp4 waits outside the cluster to replace a lost host; snapshots every 10 s, two kept
    spec.spec.hosts = spec.spec.hosts.filter((h: { name: string }) => h.name !== "cp4");
    spec.spec.etcd.snapshots = { every: "10s", keep: 2 };
    writeSpec();
    const t0 = performance.now();
    await up(
      loadCluster(specFile).cluster,
      stateDir,
      { dryRun: false, concurrency: 10, allowMemberRemoval: false, specDir: work },
      quiet,
    );
    log(`up: ${Math.round(performance.now() - t0)} ms`);
  });
  after(async () => {
    await Lab.down(labDir, log);
  });

  it("takes scheduled snapshots on the first healthy member only, keeping the newest two", async () => {
    const list = (h: string) => lab.ssh(h, "ls /var/lib/kubeha/etcd-snapshots 2>/dev/null").stdout.trim();
    const taken = () =>
      Number(
        lab.ssh("cp1", "journalctl -u kubeha-etcd-snapshot -o cat | grep -c '^saved '").stdout.trim() || 0,
      );
    assert.ok(await waitFor(async () => taken() >= 3, 90_000, 2000), `cp1 took ${taken()} snapshots`);
    const kept = list("cp1").split("\n");
    assert.equal(kept.length, 2, `kept on cp1: ${kept.join(" ")}`);
    assert.ok(
      kept.every((f) => /^scheduled-\d{8}T\d{6}Z\.db$/.test(f)),
      kept.join(" "),
    );
    for (const h of ["cp2", "cp3"]) {
      assert.equal(list(h), "", `${h} keeps none`);
      assert.match(
        lab.ssh(h, "journalctl -u kubeha-etcd-snapshot -o cat").stdout,
        /snapshots are taken by https:\/\/192\.168\.236\.11:2379, not here/,
      );
    }
    assert.match(lab.ssh("cp1", "stat -c %a /var/lib/kubeha/etcd-snapshots").stdout, /^700/);
    const status = await kubeha(["status", "-f", specFile, "-o", "json"]);
    const snapshots = JSON.parse(status.stdout).snapshots;
    assert.equal(snapshots.last.where, "cp1");
    assert.ok(snapshots.last.ageSeconds < 30, `newest is ${snapshots.last.ageSeconds} s old`);
    assert.equal(snapshots.onMembers, 2);
  });

  it("saves a snapshot here under a writer: from a member that does not lead, with its manifest and the PKI sealed", async () => {
    let stop = false;
    const acked: { key: string; at: number }[] = [];
    const writer = (async () => {
      for (let i = 0; i < 3000 && !stop; i++) {
        const key = `/restore-test/k${i}`;
        if ((await etcdctl(["put", key, `v${i}`])).code === 0) acked.push({ key, at: Date.now() });
        await sleep(10);
      }
    })();
    assert.ok(await waitFor(() => acked.length >= 30, 30_000, 100), `the writer wrote ${acked.length}`);
    const started = Date.now();
    const r = await kubeha(["etcd", "snapshot", "save", "-f", specFile, "--out", snapDir]);
    log(
      `save: ${Date.now() - started} ms in all (${/, in (\d+ ms)/.exec(r.stdout)?.[1]} on the member and over SSH)`,
    );
    await sleep(500);
    stop = true;
    await writer;
    assert.equal(r.code, 0, r.stderr + r.stdout);
    beforeSave = acked.filter((a) => a.at < started).map((a) => a.key);
    assert.ok(beforeSave.length >= 30, `${beforeSave.length} keys acknowledged before the save`);
    assert.ok(acked.length > beforeSave.length, "the writer went on during the save");
    saved = (/saved (\S+\.db):/.exec(r.stdout)?.[1] ?? "") as string;
    const manifest = JSON.parse(
      readFileSync(saved.replace(/\.db$/, ".manifest.json"), "utf8"),
    ) as SnapshotManifest;
    const db = readFileSync(saved);
    assert.equal(manifest.sha256, sha256(db));
    assert.equal(manifest.size, db.length);
    assert.deepEqual(manifest.members.map((m) => m.name).sort(), ["cp1", "cp2", "cp3"]);
    assert.ok(
      manifest.revision > beforeSave.length && manifest.totalKeys > beforeSave.length,
      JSON.stringify(manifest),
    );
    const status = JSON.parse((await kubeha(["status", "-f", specFile, "-o", "json"])).stdout);
    assert.notEqual(manifest.takenFrom, status.etcd.leader, "not taken from the leader");
    for (const f of [saved, saved.replace(/\.db$/, ".manifest.json"), saved.replace(/\.db$/, ".pki.enc")])
      assert.equal(statSync(f).mode & 0o777, 0o600, f);
    assert.equal(statSync(snapDir).mode & 0o777, 0o700);
    assert.ok(
      !readFileSync(saved.replace(/\.db$/, ".pki.enc")).includes("PRIVATE KEY"),
      "the keys are sealed",
    );
    const verify = await kubeha(["etcd", "snapshot", "verify", saved]);
    assert.equal(verify.code, 0, verify.stderr);
    assert.match(verify.stdout, /etcd's hash checks; size and SHA-256 match the manifest/);
    assert.match(verify.stdout, /\.pki\.enc: opens, \d+ files/);
    // nothing left behind on the member it came from
    assert.equal(
      lab.ssh(manifest.takenFrom, "ls -A /var/lib/kubeha/etcd-snapshots | grep -v '^scheduled-'").stdout,
      "",
    );
    const listed = await kubeha(["etcd", "snapshot", "list", "-f", specFile, "--out", snapDir]);
    assert.match(listed.stdout, new RegExp(`here\\s+${saved.replace(/[.]/g, "\\.")}`));
    assert.match(listed.stdout, /cp1\s+scheduled-/);
  });

  it("refuses a damaged snapshot and a healthy quorum before anything stops", async () => {
    const bad = join(work, "damaged.db");
    const bytes = readFileSync(saved);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] ?? 0) ^ 0xff;
    writeFileSync(bad, bytes);
    const pids = () =>
      ["cp1", "cp2", "cp3"].map(
        (h) => lab.ssh(h, "systemctl show -p MainPID --value etcd kube-apiserver").stdout,
      );
    const was = pids();
    const damaged = await kubeha(["etcd", "restore", "-f", specFile, "--from", bad]);
    assert.equal(damaged.code, 1);
    assert.match(
      damaged.stderr,
      /the snapshot .*damaged\.db is not usable: its content does not match the SHA-256 etcd wrote/,
    );
    const healthy = await kubeha(["etcd", "restore", "-f", specFile, "--from", saved]);
    assert.equal(healthy.code, 1, healthy.stdout);
    assert.match(healthy.stderr, /etcd has a quorum: cp1, cp2, cp3 answer a quorum read/);
    assert.match(healthy.stderr, /kubeha up.*learner/s);
    assert.deepEqual(pids(), was, "no etcd member or apiserver was restarted");
  });

  it("restores after two of three members lost their data, interrupted once and run again", async () => {
    await loseData(["cp2", "cp3"]);
    assert.notEqual((await etcdctl(["put", "/restore-test/lost", "x"])).code, 0, "no quorum");
    let restoring = false;
    const t0 = performance.now();
    const first = await kubeha(["etcd", "restore", "-f", specFile, "--from", saved], (line) => {
      // killed as the members are being restored: some moved aside, perhaps one restored
      if (/restore etcd member/.test(line)) restoring = true;
      return restoring;
    });
    assert.equal(first.code, 137, `the first run was killed mid-restore: ${first.stdout.slice(-400)}`);
    assert.match(
      first.stdout,
      /1\. verify the snapshot[\s\S]*5\. stop every kube-apiserver[\s\S]*6\. move each member's data directory aside/,
    );
    const second = await kubeha(["etcd", "restore", "-f", specFile, "--from", saved]);
    log(`restore: ${Math.round(performance.now() - t0)} ms in two runs`);
    assert.equal(second.code, 0, second.stdout.slice(-3000) + second.stderr);
    assert.match(second.stdout, /continues the restore started at/);
    assert.match(second.stdout, /key-space hashes equal at revision/);
    assert.match(second.stdout, /cluster lab: HEALTHY/);
    assert.deepEqual(await membersOf(), ["cp1", "cp2", "cp3"]);
    const keys = new Set(
      (await etcdctl(["get", "/restore-test/", "--prefix", "--keys-only"])).stdout
        .split("\n")
        .filter(Boolean),
    );
    const missing = beforeSave.filter((k) => !keys.has(k));
    assert.deepEqual(
      missing,
      [],
      `${missing.length} of ${beforeSave.length} keys written before the snapshot are missing`,
    );
    // cp1's own data was moved aside, not deleted
    assert.match(
      lab.ssh("cp1", "ls -d /var/lib/etcd/kubeha.before-restore-*/member").stdout,
      /before-restore-\d{8}T\d{6}Z\/member/,
    );
    const status = JSON.parse((await kubeha(["status", "-f", specFile, "-o", "json"])).stdout);
    assert.equal(status.verdict, "healthy", JSON.stringify(status.problems));
    assert.ok(status.apiservers.every((a: { ready: boolean }) => a.ready));
    const api = status.vips.find((v: { name: string }) => v.name === "api");
    assert.equal(api?.onHosts.length, 1, JSON.stringify(status.vips));
  });

  it("restores onto a replaced host with another name and address", async () => {
    await lab.kill("cp3");
    await loseData(["cp2"]);
    spec.spec.hosts = [
      ...spec.spec.hosts.filter((h: { name: string }) => h.name !== "cp3"),
      { name: "cp4", address: "192.168.236.14", roles: ["controlplane", "etcd"] },
    ];
    writeSpec();
    const t0 = performance.now();
    const r = await kubeha(["etcd", "restore", "-f", specFile, "--from", saved]);
    log(`restore onto a replaced host: ${Math.round(performance.now() - t0)} ms`);
    assert.equal(r.code, 0, r.stdout.slice(-3000) + r.stderr);
    assert.deepEqual(await membersOf(), ["cp1", "cp2", "cp4"]);
    const keys = new Set(
      (await etcdctl(["get", "/restore-test/", "--prefix", "--keys-only"])).stdout
        .split("\n")
        .filter(Boolean),
    );
    assert.deepEqual(
      beforeSave.filter((k) => !keys.has(k)),
      [],
    );
    const status = JSON.parse((await kubeha(["status", "-f", specFile, "-o", "json"])).stdout);
    assert.equal(status.verdict, "healthy", JSON.stringify(status.problems));
  });
});
