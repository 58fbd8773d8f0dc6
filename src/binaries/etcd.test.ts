/** etcd binaries from a directory, a tarball, and a download from a loopback HTTP server with its SHA-256 checked. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ExpectedExit } from "../core/errors.js";
import { run } from "../core/exec.js";
import { Unit, UPLOADED_ETCD, unitPath } from "../core/host-paths.js";
import { DigestCache } from "../core/local-file.js";
import { desiredFiles } from "../deploy/desired.js";
import { generatePki } from "../pki/generate.js";
import { scratch } from "../pki/pki-fixtures.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { type EtcdProgramFiles, etcdPrograms, etcdVersionOf } from "./etcd.js";

describe("etcd binaries", () => {
  const dir = scratch("etcd-bin");
  const release = join(dir, "etcd-v3.4.23-linux-amd64");
  const tarball = join(dir, "etcd-v3.4.23-linux-amd64.tar.gz");
  let server: Server;
  let base = "";
  let requests = 0;
  let sha = "";

  before(async () => {
    mkdirSync(release);
    writeFileSync(join(release, "etcd"), "#!/bin/sh\necho etcd stand-in for the test\n", { mode: 0o755 });
    writeFileSync(join(release, "etcdctl"), "#!/bin/sh\necho etcdctl stand-in for the test\n", {
      mode: 0o755,
    });
    writeFileSync(join(release, "README.md"), "release notes\n");
    run("tar", ["-czf", tarball, "-C", dir, "etcd-v3.4.23-linux-amd64"]);
    sha = createHash("sha256").update(readFileSync(tarball)).digest("hex");
    server = createServer((req, res) => {
      requests++;
      if (req.url === "/etcd.tar.gz" || req.url === "/releases/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz")
        res.end(readFileSync(tarball));
      else if (req.url === "/releases/v3.4.23/SHA256SUMS")
        res.end(
          `${"1".repeat(64)}  etcd-v3.4.23-linux-arm64.tar.gz\n${sha}  etcd-v3.4.23-linux-amd64.tar.gz\n`,
        );
      else if (req.url === "/bad/v3.4.23/SHA256SUMS")
        res.end(`${"2".repeat(64)}  etcd-v3.4.23-linux-amd64.tar.gz\n`);
      else if (req.url === "/bad/v3.4.23/etcd-v3.4.23-linux-amd64.tar.gz") res.end(readFileSync(tarball));
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => server.close());

  const expected = () => ({
    etcd: readFileSync(join(release, "etcd")),
    etcdctl: readFileSync(join(release, "etcdctl")),
  });
  /** The bytes of what etcdPrograms found. */
  const read = (p: EtcdProgramFiles | undefined) => p && { etcd: p.etcd.read(), etcdctl: p.etcdctl.read() };

  it("needs nothing for the distribution's package", async () => {
    assert.equal(await etcdPrograms({ source: "package" }, { specDir: dir, stateDir: dir }), undefined);
  });

  it("reads a directory or a tarball, relative to the spec", async () => {
    assert.deepEqual(
      read(
        await etcdPrograms(
          { source: "dir", path: "etcd-v3.4.23-linux-amd64" },
          { specDir: dir, stateDir: dir },
        ),
      ),
      expected(),
    );
    const fromTarball = await etcdPrograms({ source: "dir", path: tarball }, { specDir: "/", stateDir: dir });
    assert.deepEqual(read(fromTarball), expected());
    // extracted once into the state directory, read from there by the next run
    const extracted = fromTarball?.etcd.path ?? "";
    assert.ok(extracted.startsWith(join(dir, "downloads/extracted/")), extracted);
    const again = await etcdPrograms({ source: "dir", path: tarball }, { specDir: "/", stateDir: dir });
    assert.equal(again?.etcd.path, extracted);
    const inode = statSync(extracted).ino;
    assert.equal(statSync(again?.etcd.path ?? "").ino, inode, "not extracted again");
  });

  it("downloads, checks the SHA-256, caches in the state directory", async () => {
    const state = join(dir, "state");
    const b = {
      source: "download" as const,
      url: `${base}/etcd.tar.gz`,
      sha256: sha,
      arch: "amd64" as const,
    };
    assert.deepEqual(read(await etcdPrograms(b, { specDir: dir, stateDir: state })), expected());
    assert.ok(existsSync(join(state, "downloads", `etcd-${sha}.tar.gz`)));
    const before = requests;
    assert.deepEqual(read(await etcdPrograms(b, { specDir: dir, stateDir: state })), expected());
    assert.equal(requests, before, "the second run uses the cache");
  });

  it("refuses a download whose SHA-256 differs, and an unreachable one", async () => {
    const state = join(dir, "state-bad");
    const wrong = "0".repeat(64);
    await assert.rejects(
      etcdPrograms(
        { source: "download", url: `${base}/etcd.tar.gz`, sha256: wrong, arch: "amd64" },
        { specDir: dir, stateDir: state },
      ),
      (err: unknown) => {
        assert.ok(err instanceof ExpectedExit);
        assert.equal(err.code, "CHECKSUM_MISMATCH");
        assert.match(err.message, new RegExp(`has SHA-256 ${sha}, the spec says ${wrong}`));
        return true;
      },
    );
    assert.equal(existsSync(join(state, "downloads")), false, "nothing is cached");
    await assert.rejects(
      etcdPrograms(
        { source: "download", url: `${base}/missing`, sha256: sha, arch: "amd64" },
        { specDir: dir, stateDir: state },
      ),
      /HTTP 404/,
    );
  });

  it("downloads a release by version from a mirror, checked against its published SHA256SUMS", async () => {
    const state = join(dir, "state-release");
    const b = {
      source: "download" as const,
      version: "v3.4.23",
      mirror: `${base}/releases`,
      arch: "amd64" as const,
    };
    assert.deepEqual(read(await etcdPrograms(b, { specDir: dir, stateDir: state })), expected());
    assert.ok(existsSync(join(state, "downloads", `etcd-${sha}.tar.gz`)));
    await assert.rejects(
      etcdPrograms({ ...b, mirror: `${base}/bad` }, { specDir: dir, stateDir: join(dir, "state-bad-sums") }),
      (err: unknown) =>
        err instanceof ExpectedExit &&
        err.code === "CHECKSUM_MISMATCH" &&
        err.message.includes("its published SHA256SUMS say 2222"),
    );
    await assert.rejects(
      etcdPrograms({ ...b, version: "v3.9.9" }, { specDir: dir, stateDir: join(dir, "state-missing") }),
      /SHA256SUMS: HTTP 404/,
    );
    assert.equal(etcdVersionOf(b), "v3.4.23");
    assert.equal(
      etcdVersionOf({ source: "download", url: "https://x/etcd-v3.5.21-linux-amd64.tar.gz", arch: "amd64" }),
      "v3.5.21",
    );
  });

  it("makes members run the uploaded binary", async () => {
    const spec = baseSpec();
    spec.spec.etcd = { binaries: { source: "download", url: `${base}/etcd.tar.gz`, sha256: sha } };
    const cluster = loadObject(spec).cluster;
    const pki = join(dir, "pki");
    await generatePki(cluster, pki);
    writeFileSync(join(dir, "agent"), "agent");
    const agent = new DigestCache().of(join(dir, "agent"));
    const programs = await etcdPrograms(cluster.etcd.binaries, {
      specDir: dir,
      stateDir: join(dir, "state"),
    });
    const artifacts = { ...(programs && { etcd: programs }), nodeBinary: agent };
    const files = desiredFiles(cluster, cluster.hosts[0] as (typeof cluster.hosts)[0], pki, artifacts);
    const etcd = files.find((f) => f.path === UPLOADED_ETCD);
    assert.equal(etcd?.mode, 0o755);
    assert.match(
      String(files.find((f) => f.path === unitPath(Unit.etcd))?.content),
      /ExecStart=\/usr\/local\/bin\/etcd /,
    );
    const worker = desiredFiles(cluster, cluster.hosts[3] as (typeof cluster.hosts)[0], pki, artifacts);
    assert.equal(
      worker.some((f) => f.path === UPLOADED_ETCD),
      false,
    );
  });
});
