/** Kubernetes binaries from a release mirror on loopback (right and wrong checksums, a 404), a directory and a server tarball. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { ExpectedExit, UsageError } from "../core/errors.js";
import { run } from "../core/exec.js";
import { scratch } from "../pki/pki-fixtures.js";
import { binaryUrl, kubernetesBinaries, RELEASE_BINARIES } from "./kubernetes.js";

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
/** A small executable standing for `name` of `version`. */
const program = (name: string, version: string) =>
  Buffer.from(`#!/bin/sh\necho "${name} ${version} (test binary)"\n`);

describe("kubernetes binaries", () => {
  const dir = scratch("k8s-bin");
  const request = (version: string) => ({ version, arch: "amd64", names: RELEASE_BINARIES });
  /** What the mirror serves: path -> body. */
  const files = new Map<string, Buffer>();
  const hits: string[] = [];
  let server: Server;
  let base = "";

  before(async () => {
    for (const version of ["v1.34.2", "v1.34.3", "v1.34.4"]) {
      for (const name of RELEASE_BINARIES) {
        const body = program(name, version);
        files.set(`/release/${version}/bin/linux/amd64/${name}`, body);
        files.set(`/release/${version}/bin/linux/amd64/${name}.sha256`, Buffer.from(sha(body)));
      }
    }
    // v1.34.3: the scheduler does not match its published checksum; v1.34.4: kubectl is missing
    files.set("/release/v1.34.3/bin/linux/amd64/kube-scheduler", Buffer.from("#!/bin/sh\necho tampered\n"));
    files.delete("/release/v1.34.4/bin/linux/amd64/kubectl");
    server = createServer((req, res) => {
      hits.push(req.url ?? "");
      const body = files.get(req.url ?? "");
      if (body) res.end(body);
      else res.writeHead(404).end("not found");
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/release`;
  });
  after(() => server.close());

  it("names the release server's per-binary URLs", () => {
    assert.equal(
      binaryUrl("https://dl.k8s.io/release", "v1.34.2", "amd64", "kube-apiserver"),
      "https://dl.k8s.io/release/v1.34.2/bin/linux/amd64/kube-apiserver",
    );
  });

  it("downloads from a mirror, checks each published SHA-256, and caches for runs without network", async () => {
    const state = join(dir, "state");
    const got = await kubernetesBinaries({ source: "download", mirror: `${base}/` }, request("v1.34.2"), {
      specDir: dir,
      stateDir: state,
    });
    for (const name of RELEASE_BINARIES)
      assert.ok(got.get(name)?.read().equals(program(name, "v1.34.2")), name);
    const cache = join(state, "downloads/kubernetes/v1.34.2/linux-amd64");
    assert.equal(
      readFileSync(join(cache, "kubectl.sha256"), "utf8").trim(),
      sha(program("kubectl", "v1.34.2")),
    );
    const before = hits.length;
    const again = await kubernetesBinaries({ source: "download", mirror: base }, request("v1.34.2"), {
      specDir: dir,
      stateDir: state,
    });
    assert.equal(hits.length, before, "a re-run asks the mirror nothing");
    assert.ok(again.get("kube-apiserver")?.read().equals(program("kube-apiserver", "v1.34.2")));

    // a cached binary that no longer has its checked digest is fetched again
    writeFileSync(join(cache, "kube-apiserver"), "#!/bin/sh\necho changed on disk\n");
    const healed = await kubernetesBinaries({ source: "download", mirror: base }, request("v1.34.2"), {
      specDir: dir,
      stateDir: state,
    });
    assert.ok(healed.get("kube-apiserver")?.read().equals(program("kube-apiserver", "v1.34.2")));
    assert.deepEqual(hits.slice(before), [
      "/release/v1.34.2/bin/linux/amd64/kube-apiserver.sha256",
      "/release/v1.34.2/bin/linux/amd64/kube-apiserver",
    ]);
  });

  it("refuses a binary that does not match its published checksum, and caches nothing for it", async () => {
    const state = join(dir, "state-mismatch");
    await assert.rejects(
      kubernetesBinaries({ source: "download", mirror: base }, request("v1.34.3"), {
        specDir: dir,
        stateDir: state,
      }),
      (err: unknown) => {
        assert.ok(err instanceof ExpectedExit);
        assert.equal(err.code, "CHECKSUM_MISMATCH");
        assert.match(
          err.message,
          /kube-scheduler has SHA-256 [0-9a-f]{64}, its published checksum is [0-9a-f]{64}: refusing/,
        );
        return true;
      },
    );
    assert.equal(existsSync(join(state, "downloads/kubernetes/v1.34.3/linux-amd64/kube-scheduler")), false);
  });

  it("refuses a release the mirror lacks a binary of, naming the URL", async () => {
    await assert.rejects(
      kubernetesBinaries({ source: "download", mirror: base }, request("v1.34.4"), {
        specDir: dir,
        stateDir: join(dir, "state-404"),
      }),
      (err: unknown) => {
        assert.ok(err instanceof ExpectedExit);
        assert.equal(err.code, "DOWNLOAD_FAILED");
        assert.match(
          err.message,
          /cannot download http:\/\/127\.0\.0\.1:\d+\/release\/v1\.34\.4\/bin\/linux\/amd64\/kubectl: HTTP 404/,
        );
        assert.match(err.hint ?? "", /the mirror .* has the release's layout/);
        return true;
      },
    );
  });

  it("reads a directory of binaries, and the server tarball's kubernetes/server/bin/", async () => {
    const flat = join(dir, "bundle");
    mkdirSync(flat);
    for (const name of RELEASE_BINARIES) writeFileSync(join(flat, name), program(name, "v1.34.2"));
    const fromDir = await kubernetesBinaries({ source: "dir", path: "bundle" }, request("v1.34.2"), {
      specDir: dir,
      stateDir: dir,
    });
    assert.ok(fromDir.get("kube-scheduler")?.read().equals(program("kube-scheduler", "v1.34.2")));

    const tree = join(dir, "tarball-tree");
    const bin = join(tree, "kubernetes/server/bin");
    mkdirSync(bin, { recursive: true });
    for (const name of [...RELEASE_BINARIES, "kubelet", "kubeadm"])
      writeFileSync(join(bin, name), program(name, "v1.34.2"));
    writeFileSync(join(bin, "kube-apiserver.tar"), "an image archive, not the binary");
    writeFileSync(join(tree, "kubernetes/LICENSES"), "licenses");
    const tarball = join(dir, "kubernetes-server-linux-amd64.tar.gz");
    run("tar", ["-czf", tarball, "-C", tree, "kubernetes"]);
    const fromTarball = await kubernetesBinaries({ source: "dir", path: tarball }, request("v1.34.2"), {
      specDir: "/",
      stateDir: dir,
    });
    assert.deepEqual([...fromTarball.keys()], [...RELEASE_BINARIES]);
    assert.ok(fromTarball.get("kube-apiserver")?.read().equals(program("kube-apiserver", "v1.34.2")));
  });

  it("names what a directory lacks", async () => {
    const partial = join(dir, "partial");
    mkdirSync(partial);
    writeFileSync(join(partial, "kube-apiserver"), program("kube-apiserver", "v1.34.2"));
    await assert.rejects(
      kubernetesBinaries({ source: "dir", path: partial }, request("v1.34.2"), {
        specDir: dir,
        stateDir: dir,
      }),
      (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(
          err.message,
          /holds no kube-controller-manager, kube-scheduler, kubelet, kube-proxy, kubectl$/,
        );
        assert.match(err.hint ?? "", /kubernetes-server-linux-amd64\.tar\.gz/);
        return true;
      },
    );
  });
});
