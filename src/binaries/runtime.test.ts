/** containerd, runc and the CNI plugins from a loopback mirror with GitHub's release layout, and from a directory. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ExpectedExit, UsageError } from "../core/errors.js";
import { run } from "../core/exec.js";
import { DigestCache } from "../core/local-file.js";
import { desiredFiles } from "../deploy/desired.js";
import { generatePki } from "../pki/generate.js";
import { scratch } from "../pki/pki-fixtures.js";
import { renderContainerdConfig } from "../render/node.js";
import { hostPackages } from "../services/node.js";
import type { Host } from "../spec/defaults.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { digestIn, releaseFiles, runtimePrograms } from "./runtime.js";

const sha = (b: Buffer | string) => createHash("sha256").update(b).digest("hex");
const program = (name: string) => `#!/bin/sh\necho "${name} (test binary)"\n`;
const versions = { containerd: "v1.7.28", runc: "v1.3.0", cni: "v1.7.1", arch: "amd64" };

describe("container runtime binaries", () => {
  const dir = scratch("runtime-bin");
  const release = join(dir, "release");
  const files = new Map<string, Buffer>();
  const hits: string[] = [];
  let server: Server;
  let base = "";

  before(async () => {
    mkdirSync(release);
    const r = releaseFiles(versions);
    const tree = join(dir, "tree");
    mkdirSync(join(tree, "containerd/bin"), { recursive: true });
    for (const n of ["containerd", "containerd-shim-runc-v2", "ctr", "containerd-stress"])
      writeFileSync(join(tree, "containerd/bin", n), program(n), { mode: 0o755 });
    mkdirSync(join(tree, "cni"), { recursive: true });
    for (const n of ["bridge", "host-local", "loopback", "portmap", "macvlan"])
      writeFileSync(join(tree, "cni", n), program(n), { mode: 0o755 });
    run("tar", ["-czf", join(release, r.containerd.name), "-C", join(tree, "containerd"), "bin"]);
    run("tar", ["-czf", join(release, r.cni.name), "-C", join(tree, "cni"), "."]);
    writeFileSync(join(release, r.runc.name), program("runc"), { mode: 0o755 });
    const read = (n: string) => readFileSync(join(release, n));
    for (const f of Object.values(r)) files.set(`/${f.dir}/${f.name}`, read(f.name));
    files.set(
      `/${r.containerd.dir}/${r.containerd.sums}`,
      Buffer.from(`${sha(read(r.containerd.name))}  ${r.containerd.name}\n`),
    );
    files.set(
      `/${r.runc.dir}/${r.runc.sums}`,
      Buffer.from(`${"1".repeat(64)}  runc.arm64\n${sha(program("runc"))}  runc.amd64\n`),
    );
    files.set(`/${r.cni.dir}/${r.cni.sums}`, Buffer.from(`${sha(read(r.cni.name))}  ${r.cni.name}\n`));
    // v1.3.1: runc does not match its checksum; cni v1.7.2: missing
    files.set("/opencontainers/runc/releases/download/v1.3.1/runc.amd64", Buffer.from("tampered"));
    files.set(
      "/opencontainers/runc/releases/download/v1.3.1/runc.sha256sum",
      Buffer.from(`${sha(program("runc"))}  runc.amd64\n`),
    );
    server = createServer((req, res) => {
      hits.push(req.url ?? "");
      const body = files.get(req.url ?? "");
      if (body) res.end(body);
      else res.writeHead(404).end("not found");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  it("reads the digest a checksum file gives a name", () => {
    assert.equal(digestIn(`${"a".repeat(64)}  x.tgz\n${"b".repeat(64)} *y.tgz\n`, "y.tgz"), "b".repeat(64));
    assert.equal(digestIn(`${"c".repeat(64)}\n`, "anything"), "c".repeat(64));
    assert.equal(digestIn(`${"a".repeat(64)}  x.tgz\n`, "y.tgz"), undefined);
  });

  it("downloads each project's release, checks its published checksum, caches it, and picks the programs", async () => {
    const state = join(dir, "state");
    const source = { source: "download" as const, mirror: base, ...versions };
    const got = await runtimePrograms(source, { specDir: dir, stateDir: state });
    assert.ok(got);
    assert.deepEqual([...got.containerd.keys()], ["containerd", "containerd-shim-runc-v2", "ctr"]);
    assert.deepEqual([...got.cni.keys()], ["bridge", "host-local", "loopback", "portmap"]);
    assert.equal(got.runc.read().toString(), program("runc"));
    assert.equal(got.containerd.get("ctr")?.read().toString(), program("ctr"));
    const before = hits.filter((h) => !h.endsWith("sum") && !h.endsWith(".sha256")).length;
    await runtimePrograms(source, {
      specDir: dir,
      stateDir: state,
      digests: new DigestCache(join(state, "digests")),
    });
    assert.equal(
      hits.filter((h) => !h.endsWith("sum") && !h.endsWith(".sha256")).length,
      before,
      "a re-run downloads no release file again",
    );
  });

  it("refuses a file that does not match its checksum, and a release the mirror lacks", async () => {
    await assert.rejects(
      runtimePrograms(
        { source: "download", mirror: base, ...versions, runc: "v1.3.1" },
        { specDir: dir, stateDir: join(dir, "s2") },
      ),
      (err: unknown) =>
        err instanceof ExpectedExit &&
        err.code === "CHECKSUM_MISMATCH" &&
        /runc\.amd64 has SHA-256/.test(err.message),
    );
    await assert.rejects(
      runtimePrograms(
        { source: "download", mirror: base, ...versions, cni: "v1.7.2" },
        { specDir: dir, stateDir: join(dir, "s3") },
      ),
      /cannot download .*cni-plugins-linux-amd64-v1\.7\.2\.tgz\.sha256: HTTP 404/,
    );
  });

  it("reads the release files from a directory, naming what it lacks", async () => {
    const got = await runtimePrograms(
      { source: "dir", path: "release", ...versions },
      { specDir: dir, stateDir: join(dir, "s4") },
    );
    assert.equal(got?.cni.get("portmap")?.read().toString(), program("portmap"));
    await assert.rejects(
      runtimePrograms(
        { source: "dir", path: "release", ...versions, containerd: "v2.0.0" },
        { specDir: dir, stateDir: dir },
      ),
      (err: unknown) =>
        err instanceof UsageError && /holds no containerd-2\.0\.0-linux-amd64\.tar\.gz$/.test(err.message),
    );
  });

  it("puts an uploaded runtime under /usr/local with its own unit, and asks apt for none of it", async () => {
    const spec = baseSpec();
    spec.spec.kubernetes = { containerd: { source: "dir", path: "release" } };
    const cluster = loadObject(spec).cluster;
    const runtime = await runtimePrograms(cluster.kubernetes.containerd, {
      specDir: dir,
      stateDir: join(dir, "s5"),
    });
    assert.ok(runtime);
    const pki = join(dir, "pki");
    await generatePki(cluster, pki);
    writeFileSync(join(dir, "agent"), "agent");
    const w1 = cluster.hosts.find((h) => h.name === "w1") as Host;
    const paths = desiredFiles(cluster, w1, pki, {
      runtime,
      nodeBinary: new DigestCache().of(join(dir, "agent")),
    }).map((f) => f.path);
    for (const p of [
      "/usr/local/bin/containerd",
      "/usr/local/sbin/runc",
      "/opt/cni/bin/portmap",
      "/etc/systemd/system/containerd.service",
    ])
      assert.ok(paths.includes(p), p);
    assert.equal(paths.includes("/etc/systemd/system/containerd.service.d/kubeha.conf"), false);
    assert.match(renderContainerdConfig(cluster), /bin_dir = "\/opt\/cni\/bin"/);
    assert.deepEqual(hostPackages(cluster, w1), ["conntrack", "iptables"]);
  });
});
