#!/usr/bin/env node
// Times saving and restoring an etcd snapshot of 100 000 keys (256-byte values) on one real
// etcd (Debian's, mutual TLS on loopback), kubeha's way against the peer's: etcdctl's
// `snapshot save` and `snapshot restore` plus a start, as RKE and the Kubernetes docs run them.
// kubeha's save adds what the member's host and the operator's machine do (snapshot status,
// the bytes read back through a child process as the SSH transport reads them, etcd's hash
// and the SHA-256 checked, the PKI sealed, three files written); its restore adds the checks
// before anything stops, the upload checked on the host, and equal hashes after the start.
// SSH itself is left out (the lab test logs the lab's figures). Prints medians and ratios.
// Usage: npm run build && node bench/etcd-snapshot.mjs [rounds] [keys]
import { spawn, spawnSync } from "node:child_process";
import { copyFileSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { sha256 } from "../dist/core/hash.js";
import { EtcdClient, readEtcdTls } from "../dist/etcd/client.js";
import { startOneMember } from "../dist/etcd/etcd-fixtures.js";
import { checkEtcdHash, verifySnapshot } from "../dist/etcd/snapshot-file.js";
import { parseSnapshotStatus } from "../dist/etcd/snapshot-host.js";
import { filesUnder, sealBundle } from "../dist/pki/bundle.js";
import { scratch } from "../dist/pki/pki-fixtures.js";
import { median, sleep } from "./common.mjs";

process.noDeprecation = true; // grpc-js names an IP address as the TLS server name
const rounds = Number(process.argv[2] ?? 3);
const keys = Number(process.argv[3] ?? 100_000);
const dir = scratch("bench-snapshot");
const ip = "127.0.0.61";
const { etcd, pki } = await startOneMember(ip, dir);
const f = (name) => join(pki, "hosts/cp1/pki/etcd", name);
const tlsFlags = [
  `--cacert=${f("ca.crt")}`,
  `--cert=${f("healthcheck-client.crt")}`,
  `--key=${f("healthcheck-client.key")}`,
];
const etcdctl = (...args) => {
  const r = spawnSync("etcdctl", [`--endpoints=${etcd.clientUrls[0]}`, ...tlsFlags, ...args], {
    env: { ...process.env, ETCDCTL_API: "3" },
    encoding: "utf8",
  });
  if (r.status !== 0) throw new Error(`etcdctl ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
};
const ms = (t0) => performance.now() - t0;

try {
  for (
    let i = 0;
    i < 50 &&
    spawnSync("etcdctl", [`--endpoints=${etcd.clientUrls[0]}`, ...tlsFlags, "endpoint", "health"]).status !==
      0;
    i++
  )
    await sleep(200);
  const client = new EtcdClient(
    etcd.clientUrls,
    readEtcdTls({
      caFile: f("ca.crt"),
      certFile: f("healthcheck-client.crt"),
      keyFile: f("healthcheck-client.key"),
    }),
    10_000,
  );
  const value = "v".repeat(256);
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 64 }, async () => {
      while (next < keys) await client.put(`/registry/bench/${String(next++).padStart(7, "0")}`, value);
    }),
  );
  client.close();
  console.log(`loaded ${keys} keys in ${(ms(t0) / 1000).toFixed(1)} s`);

  const db = join(dir, "s.db");
  const peerSave = [];
  const ourSave = [];
  const parts = { status: [], read: [], hashes: [], bundle: [] };
  for (let r = 0; r < rounds; r++) {
    rmSync(db, { force: true });
    let t = performance.now();
    etcdctl("snapshot", "save", db);
    peerSave.push(ms(t));
    rmSync(db, { force: true });
    t = performance.now();
    // the member's host: save, and etcd's account of the file
    etcdctl("snapshot", "save", db);
    let p = performance.now();
    parseSnapshotStatus(
      spawnSync("etcdctl", ["snapshot", "status", db, "-w", "json"], { encoding: "utf8" }).stdout,
    );
    parts.status.push(ms(p));
    // the operator's machine: the bytes as the transport reads them, the checks, the bundle, three files
    p = performance.now();
    const bytes = await new Promise((resolve) => {
      const c = spawn("sh", ["-c", `cat ${db}`]);
      const chunks = [];
      c.stdout.on("data", (chunk) => chunks.push(chunk));
      c.once("close", () => resolve(Buffer.concat(chunks)));
    });
    parts.read.push(ms(p));
    p = performance.now();
    if (checkEtcdHash(bytes)) throw new Error("damaged");
    const digest = sha256(bytes);
    parts.hashes.push(ms(p));
    p = performance.now();
    const bundle = sealBundle(filesUnder(pki), "a passphrase for the bench");
    parts.bundle.push(ms(p));
    const out = join(dir, "out.db");
    writeFileSync(out, bytes, { mode: 0o600 });
    writeFileSync(join(dir, "out.pki.enc"), bundle, { mode: 0o600 });
    writeFileSync(
      join(dir, "out.manifest.json"),
      JSON.stringify({ format: "kubeha-etcd-snapshot/1", size: bytes.length, sha256: digest }),
    );
    ourSave.push(ms(t));
  }
  const size = readFileSync(db).length;

  // restore one member and start it until it answers; kubeha checks before and after
  const restoreOnce = async (kubeha, r) => {
    const data = join(dir, `restored-${kubeha ? "k" : "p"}${r}`);
    const port = 24_000 + r * 2 + (kubeha ? 100 : 0);
    const t = performance.now();
    let from = db;
    if (kubeha) {
      verifySnapshot(join(dir, "out.db"));
      from = join(dir, "upload.db");
      copyFileSync(join(dir, "out.db"), from);
      spawnSync("sh", ["-c", `sha256sum ${from} >/dev/null`]);
    }
    const restored = spawnSync(
      "etcdctl",
      [
        "snapshot",
        "restore",
        from,
        "--name",
        "m",
        "--initial-cluster",
        `m=http://127.0.0.1:${port + 1}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${port + 1}`,
        "--data-dir",
        data,
      ],
      { env: { ...process.env, ETCDCTL_API: "3" } },
    );
    if (restored.status !== 0) throw new Error(String(restored.stderr));
    const p = spawn(
      "etcd",
      [
        "--name",
        "m",
        "--data-dir",
        data,
        `--listen-client-urls=http://127.0.0.1:${port}`,
        `--advertise-client-urls=http://127.0.0.1:${port}`,
        `--listen-peer-urls=http://127.0.0.1:${port + 1}`,
      ],
      { stdio: "ignore" },
    );
    const ep = `--endpoints=127.0.0.1:${port}`;
    while (
      spawnSync("etcdctl", [ep, "endpoint", "health"], { env: { ...process.env, ETCDCTL_API: "3" } })
        .status !== 0
    )
      await sleep(50);
    if (kubeha)
      spawnSync("etcdctl", [ep, "endpoint", "hashkv", "-w", "json"], {
        env: { ...process.env, ETCDCTL_API: "3" },
      });
    const took = ms(t);
    const count = spawnSync(
      "etcdctl",
      [ep, "get", "/registry/bench/", "--prefix", "--limit=1", "-w", "json"],
      { env: { ...process.env, ETCDCTL_API: "3" }, encoding: "utf8" },
    ).stdout;
    p.kill("SIGTERM");
    await new Promise((resolve) => p.once("exit", resolve));
    rmSync(data, { recursive: true, force: true });
    const n = JSON.parse(count).count;
    if (n !== keys) throw new Error(`restored ${n} keys, not ${keys}`);
    return took;
  };
  const peerRestore = [];
  const ourRestore = [];
  for (let r = 0; r < rounds; r++) {
    peerRestore.push(await restoreOnce(false, r));
    ourRestore.push(await restoreOnce(true, r));
  }
  const row = (what, ours, peer) =>
    console.log(
      `${what.padEnd(40)} kubeha ${Math.round(median(ours))} ms   etcdctl ${Math.round(median(peer))} ms   ${(median(ours) / median(peer)).toFixed(2)}x`,
    );
  console.log(`snapshot of ${keys} keys: ${(size / 1e6).toFixed(1)} MB; medians of ${rounds}`);
  row("save", ourSave, peerSave);
  console.log(
    `  of kubeha's save: ${Object.entries(parts)
      .map(([k, v]) => `${k} ${Math.round(median(v))} ms`)
      .join(
        ", ",
      )} (status: etcd's account of the file on the member; read: the bytes through a child process; hashes: etcd's and the SHA-256)`,
  );
  row("restore one member, start, answer", ourRestore, peerRestore);
} finally {
  await etcd.stop();
}
