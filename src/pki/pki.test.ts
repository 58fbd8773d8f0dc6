/**
 * PKI properties checked with real OpenSSL: chains, names, usages, modes,
 * idempotency and the lifecycle (added names, added hosts, rotation).
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { ExpectedExit } from "../core/errors.js";
import type { Cluster } from "../spec/defaults.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { checkCerts } from "./check.js";
import { generatePki } from "./generate.js";
import { CAS, inventoryOf, type Leaf } from "./inventory.js";
import { parseKubeconfig } from "./kubeconfig.js";
import { changedFiles, openssl, scratch, snapshot, x509Text } from "./pki-fixtures.js";
import { rotateCerts } from "./rotate.js";

const cluster = (mutate: (s: any) => void = () => {}): Cluster => {
  const spec = baseSpec();
  spec.spec.controlPlane.endpoint.dnsNames = ["api.example.com"];
  mutate(spec);
  return loadObject(spec).cluster;
};

/** The certificate PEM of a leaf, from its .crt or its kubeconfig. */
function leafCert(pkiDir: string, leaf: Leaf): string {
  if (leaf.target.kind === "pem") return readFileSync(join(pkiDir, leaf.target.cert), "utf8");
  const kc = parseKubeconfig(readFileSync(join(pkiDir, leaf.target.file), "utf8"));
  assert.ok(kc, `${leaf.target.file} is a kubeconfig`);
  return kc.certPem;
}

describe("pki generate", () => {
  const dir = scratch("pki");
  const pki = join(dir, "pki");
  const c = cluster();
  const inv = inventoryOf(c);
  const find = (id: string) => inv.leaves.find((l) => l.id === id) as Leaf;

  before(async () => {
    await generatePki(c, pki);
  });

  it("chains every leaf to its own CA (openssl verify)", () => {
    for (const leaf of inv.leaves) {
      const file = join(dir, `${leaf.id.replace("/", "_")}.crt`);
      writeFileSync(file, leafCert(pki, leaf));
      const ca = join(pki, CAS[leaf.signer].cert);
      assert.match(openssl("verify", "-CAfile", ca, file), /: OK/, leaf.id);
      const other = leaf.signer === "ca" ? CAS["etcd-ca"].cert : CAS.ca.cert;
      assert.throws(
        () => openssl("verify", "-CAfile", join(pki, other), file),
        /verification failed|error/,
        `${leaf.id} must not verify against ${other}`,
      );
    }
  });

  it("gives the apiserver every name clients use", () => {
    const text = x509Text(leafCert(pki, find("cp1/apiserver")), dir);
    for (const name of [
      "DNS:kubernetes",
      "DNS:kubernetes.default",
      "DNS:kubernetes.default.svc",
      "DNS:kubernetes.default.svc.cluster.local",
      "DNS:localhost",
      "DNS:api.example.com",
      "IP Address:192.168.61.100",
      "IP Address:192.168.61.11",
      "IP Address:192.168.61.12",
      "IP Address:192.168.61.13",
      "IP Address:127.0.0.1",
      "IP Address:10.43.0.1",
    ]) {
      assert.ok(text.includes(name), `apiserver lacks ${name}`);
    }
    assert.doesNotMatch(text, /192\.168\.61\.21/, "a worker address is not an apiserver name");
    assert.match(text, /Extended Key Usage: *\n *TLS Web Server Authentication\n/);
  });

  it("gives etcd members their names and both usages; clients only client auth", () => {
    for (const id of ["cp2/etcd-server", "cp2/etcd-peer"]) {
      const text = x509Text(leafCert(pki, find(id)), dir);
      assert.match(text, /Subject: CN = cp2/);
      for (const n of ["DNS:cp2", "DNS:localhost", "IP Address:192.168.61.12", "IP Address:127.0.0.1"])
        assert.ok(text.includes(n), `${id} lacks ${n}`);
      assert.match(text, /TLS Web Server Authentication, TLS Web Client Authentication/);
    }
    for (const id of [
      "cp1/apiserver-etcd-client",
      "cp1/etcd-healthcheck-client",
      "edge1/kubeha-agent-etcd-client",
      "w1/kubelet",
      "admin",
    ]) {
      const text = x509Text(leafCert(pki, find(id)), dir);
      assert.match(text, /Extended Key Usage: *\n *TLS Web Client Authentication\n/, id);
      assert.doesNotMatch(text, /Subject Alternative Name/, id);
      assert.match(text, /Key Usage: critical\n *Digital Signature\n/, id);
      assert.match(text, /CA:FALSE/, id);
    }
    assert.match(
      x509Text(leafCert(pki, find("w1/kubelet")), dir),
      /Subject: O = system:nodes, CN = system:node:w1/,
    );
    assert.match(
      x509Text(leafCert(pki, find("edge1/kubeha-agent-etcd-client")), dir),
      /Subject: CN = kubeha-agent/,
    );
    assert.match(
      x509Text(leafCert(pki, find("admin")), dir),
      /Subject: O = system:masters, CN = kubernetes-admin/,
    );
  });

  it("makes CAs that can sign and nothing else, ECDSA P-256 by default", () => {
    for (const ca of Object.values(CAS)) {
      const text = openssl("x509", "-in", join(pki, ca.cert), "-noout", "-text");
      assert.match(text, /CA:TRUE/);
      assert.match(text, /Certificate Sign, CRL Sign/);
      assert.match(text, /ASN1 OID: prime256v1/);
    }
  });

  it("points kubeconfigs at the right API", () => {
    const server = (file: string) => parseKubeconfig(readFileSync(join(pki, file), "utf8"))?.server;
    assert.equal(server("admin.conf"), "https://192.168.61.100:6443");
    assert.equal(server("hosts/cp1/kubelet.conf"), "https://192.168.61.11:6443");
    assert.equal(server("hosts/cp1/controller-manager.conf"), "https://192.168.61.11:6443");
    assert.equal(server("hosts/w1/kubelet.conf"), "https://127.0.0.1:6443");
    assert.equal(server("hosts/w1/kube-proxy.conf"), "https://127.0.0.1:6443");
  });

  it("lays files out per host as on the host, with exact modes", () => {
    const mode = (f: string) => statSync(join(pki, f)).mode & 0o777;
    assert.equal(statSync(pki).mode & 0o777, 0o700);
    for (const f of [
      "ca.key",
      "etcd/ca.key",
      "front-proxy-ca.key",
      "sa.key",
      "admin.conf",
      "hosts/cp1/pki/etcd/server.key",
      "hosts/cp1/pki/ca.key",
      "hosts/cp1/pki/sa.key",
      // kubeconfigs carry a client key: 0600 like any key (CIS 1.1.x, 4.1.x)
      "hosts/w1/kubelet.conf",
      "hosts/w1/kube-proxy.conf",
      "hosts/cp1/controller-manager.conf",
      "hosts/cp1/scheduler.conf",
    ]) {
      assert.equal(mode(f), 0o600, f);
    }
    for (const f of ["ca.crt", "sa.pub", "hosts/cp1/pki/apiserver.crt", "hosts/w1/pki/ca.crt"])
      assert.equal(mode(f), 0o644, f);
    for (const d of ["hosts", "hosts/cp1", "hosts/cp1/pki", "hosts/cp1/pki/etcd", "etcd"])
      assert.equal(mode(d), 0o700, d);
    for (const [file, m] of snapshot(pki)) {
      if (file.endsWith(".key") || file.endsWith(".conf")) assert.match(m, / 600$/, file);
    }
    // workers get no etcd or apiserver material
    const w1 = [...snapshot(join(pki, "hosts/w1")).keys()];
    assert.deepEqual(w1.sort(), [
      "kube-proxy.conf",
      "kubelet.conf",
      "pki",
      "pki/ca.crt",
      "pki/kubelet-server.crt",
      "pki/kubelet-server.key",
    ]);
    assert.equal(
      readFileSync(join(pki, "hosts/cp1/pki/etcd/ca.crt"), "utf8"),
      readFileSync(join(pki, "etcd/ca.crt"), "utf8"),
    );
  });

  it("changes nothing on a second run", async () => {
    const before = snapshot(pki);
    assert.deepEqual(await generatePki(c, pki), []);
    assert.deepEqual(changedFiles(before, snapshot(pki)), []);
  });

  it("fixes a loosened key mode", async () => {
    const { chmodSync } = await import("node:fs");
    chmodSync(join(pki, "hosts/cp1/pki/apiserver.key"), 0o644);
    const changes = await generatePki(c, pki);
    assert.deepEqual(
      changes.map((ch) => [ch.action, ch.file]),
      [["mode fixed", "hosts/cp1/pki/apiserver.key"]],
    );
  });
});

describe("pki lifecycle", () => {
  it("re-issues only the apiserver certificates when a DNS name is added", async () => {
    const pki = join(scratch("pki-dns"), "pki");
    await generatePki(cluster(), pki);
    const before = snapshot(pki);
    const changes = await generatePki(
      cluster((s) => s.spec.controlPlane.endpoint.dnsNames.push("k8s.example.com")),
      pki,
    );
    const changed = changedFiles(before, snapshot(pki));
    assert.deepEqual(
      changed,
      ["cp1", "cp2", "cp3"].flatMap((h) => [`hosts/${h}/pki/apiserver.crt`, `hosts/${h}/pki/apiserver.key`]),
    );
    assert.ok(
      changes.every((ch) => ch.action === "re-issued" && /lacks k8s.example.com/.test(ch.reason ?? "")),
    );
    const text = openssl(
      "x509",
      "-in",
      join(pki, "hosts/cp2/pki/apiserver.crt"),
      "-noout",
      "-ext",
      "subjectAltName",
    );
    assert.match(text, /DNS:k8s.example.com/);
    assert.match(
      openssl("verify", "-CAfile", join(pki, "ca.crt"), join(pki, "hosts/cp2/pki/apiserver.crt")),
      /OK/,
    );
  });

  it("adds only the new host's files when a worker joins", async () => {
    const pki = join(scratch("pki-host"), "pki");
    await generatePki(cluster(), pki);
    const before = snapshot(pki);
    await generatePki(
      cluster((s) => s.spec.hosts.push({ name: "w3", address: "192.168.61.23", roles: ["worker"] })),
      pki,
    );
    const changed = changedFiles(before, snapshot(pki));
    assert.ok(
      changed.length > 0 && changed.every((f) => f === "hosts/w3" || f.startsWith("hosts/w3/")),
      changed.join(" "),
    );
  });

  it("re-issues every apiserver certificate when a controlplane host joins", async () => {
    const pki = join(scratch("pki-cp"), "pki");
    await generatePki(cluster(), pki);
    const before = snapshot(pki);
    await generatePki(
      cluster((s) => s.spec.hosts.push({ name: "cp4", address: "192.168.61.14", roles: ["controlplane"] })),
      pki,
    );
    const changed = changedFiles(before, snapshot(pki)).filter((f) => !f.startsWith("hosts/cp4"));
    assert.deepEqual(
      changed,
      ["cp1", "cp2", "cp3"].flatMap((h) => [`hosts/${h}/pki/apiserver.crt`, `hosts/${h}/pki/apiserver.key`]),
    );
  });

  it("never replaces a CA whose key is gone, and says what to do", async () => {
    const pki = join(scratch("pki-ca"), "pki");
    await generatePki(cluster(), pki);
    const caCert = readFileSync(join(pki, "ca.crt"), "utf8");
    rmSync(join(pki, "ca.key"));
    await assert.rejects(generatePki(cluster(), pki), (err: unknown) => {
      assert.ok(err instanceof ExpectedExit);
      assert.equal(err.code, "CA_INCOMPLETE");
      assert.match(err.hint ?? "", /certs rotate --ca/);
      return true;
    });
    assert.equal(readFileSync(join(pki, "ca.crt"), "utf8"), caCert);
  });

  it("rotates the CAs only on request, keeping the old ones, and re-issues every leaf", async () => {
    const dir = scratch("pki-rotate");
    const pki = join(dir, "pki");
    const c = cluster();
    await generatePki(c, pki);
    const oldCa = readFileSync(join(pki, "ca.crt"), "utf8");
    const forced = await rotateCerts(c, pki, { force: true });
    assert.equal(readFileSync(join(pki, "ca.crt"), "utf8"), oldCa, "--force keeps the CA");
    assert.ok(forced.changes.some((ch) => ch.file === "hosts/w1/kubelet.conf" && ch.action === "re-issued"));

    const result = await rotateCerts(c, pki, { ca: true });
    assert.ok(result.retiredTo);
    assert.equal(readFileSync(join(pki, result.retiredTo, "ca.crt"), "utf8"), oldCa);
    assert.notEqual(readFileSync(join(pki, "ca.crt"), "utf8"), oldCa);
    assert.equal(
      readFileSync(join(pki, "hosts/w1/pki/ca.crt"), "utf8"),
      readFileSync(join(pki, "ca.crt"), "utf8"),
    );
    const rows = await checkCerts(c, pki);
    assert.ok(
      rows.every((r) => r.status === "ok"),
      JSON.stringify(rows.filter((r) => r.status !== "ok")),
    );
    assert.match(
      openssl("verify", "-CAfile", join(pki, "etcd/ca.crt"), join(pki, "hosts/cp1/pki/etcd/peer.crt")),
      /OK/,
    );
  });

  it("issues RSA 2048 keys when the spec asks for them", async () => {
    const pki = join(scratch("pki-rsa"), "pki");
    await generatePki(
      cluster((s) => (s.spec.pki = { keyAlgorithm: "rsa-2048" })),
      pki,
    );
    const text = openssl("x509", "-in", join(pki, "hosts/cp1/pki/apiserver.crt"), "-noout", "-text");
    assert.match(text, /Public-Key: \(2048 bit\)/);
    assert.match(text, /Digital Signature, Key Encipherment/);
  });
});

describe("certs check", () => {
  it("reports names out of date, renew soon, expired and missing", async () => {
    const pki = join(scratch("pki-check"), "pki");
    await generatePki(cluster(), pki);
    const status = (rows: Awaited<ReturnType<typeof checkCerts>>, file: string) =>
      rows.find((r) => r.file === file);

    const ok = await checkCerts(cluster(), pki);
    assert.ok(ok.every((r) => r.status === "ok"));
    const api = status(ok, "hosts/cp1/pki/apiserver.crt");
    assert.ok(
      api?.sans.includes("192.168.61.100") && api.issuer === "kubernetes" && (api.daysLeft ?? 0) >= 364,
    );

    const renamed = await checkCerts(
      cluster((s) => (s.spec.controlPlane.endpoint.dnsNames = ["new.example.com"])),
      pki,
    );
    assert.equal(status(renamed, "hosts/cp3/pki/apiserver.crt")?.status, "names out of date");
    assert.match(
      status(renamed, "hosts/cp3/pki/apiserver.crt")?.reason ?? "",
      /lacks new.example.com; has extra api.example.com/,
    );
    assert.equal(status(renamed, "hosts/cp3/pki/etcd/server.crt")?.status, "ok");

    const soon = await checkCerts(cluster(), pki, new Date(Date.now() + 350 * 86_400_000));
    assert.equal(status(soon, "admin.conf")?.status, "renew soon");
    const late = await checkCerts(cluster(), pki, new Date(Date.now() + 400 * 86_400_000));
    assert.equal(status(late, "admin.conf")?.status, "expired");
    assert.equal(status(late, "ca.crt")?.status, "ok");

    const grown = await checkCerts(
      cluster((s) => s.spec.hosts.push({ name: "w9", address: "192.168.61.29", roles: ["worker"] })),
      pki,
    );
    assert.equal(status(grown, "hosts/w9/kubelet.conf")?.status, "missing");
    const shrunk = await checkCerts(
      cluster((s) => s.spec.hosts.splice(4, 1)),
      pki,
    );
    assert.equal(status(shrunk, "hosts/w2/pki/ca.crt")?.status, "not in spec");
  });
});
