/**
 * The generated etcd certificates in a real 3-member etcd (Debian's
 * etcd-server) on loopback addresses, with client and peer certificate
 * authentication on: the apiserver's client works; no certificate, a
 * certificate of another CA, and plaintext are refused.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sleep } from "../core/wait.js";
import { startEtcd, type TestEtcd } from "../etcd/etcd-fixtures.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { generatePki } from "./generate.js";
import { scratch } from "./pki-fixtures.js";

const ETCD = "/usr/bin/etcd";
const ETCDCTL = "/usr/bin/etcdctl";
const missing = !existsSync(ETCD) || !existsSync(ETCDCTL);
const members = [
  { name: "cp1", ip: "127.0.0.11" },
  { name: "cp2", ip: "127.0.0.12" },
  { name: "cp3", ip: "127.0.0.13" },
];

describe("etcd with the generated certificates", {
  skip: missing && "etcd-server/etcd-client not installed (scripts/setup.sh installs them)",
}, () => {
  const dir = scratch("etcd-mtls");
  const pki = join(dir, "pki");
  const otherPki = join(dir, "other", "pki");
  let etcd: TestEtcd | undefined;
  let endpoints = "";
  let logs = "";
  let lastError = "";
  /** TLS handshakes the members refused, counted from their logs. */
  let rejections = 0;

  const spec = baseSpec();
  spec.spec.network.hostCidr = "127.0.0.0/24";
  spec.spec.hosts = members.map((m) => ({ name: m.name, address: m.ip, roles: ["controlplane", "etcd"] }));
  spec.spec.controlPlane.endpoint.vip = "127.0.0.100";
  delete spec.spec.ingress;
  const cluster = loadObject(spec).cluster;

  const etcdctl = (
    args: string[],
    creds: { cert?: string; key?: string; ca?: string } = {},
    timeout = "3s",
  ) => {
    const tls = [
      ...(creds.ca ? [`--cacert=${creds.ca}`] : []),
      ...(creds.cert ? [`--cert=${creds.cert}`, `--key=${creds.key}`] : []),
    ];
    return execFileSync(
      ETCDCTL,
      [
        `--endpoints=${endpoints}`,
        `--dial-timeout=${timeout}`,
        `--command-timeout=${timeout}`,
        ...tls,
        ...args,
      ],
      {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, ETCDCTL_API: "3" },
      },
    );
  };
  const host = (name: string, file: string) => join(pki, "hosts", name, "pki", file);
  const apiserverClient = {
    ca: join(pki, "etcd/ca.crt"),
    cert: host("cp1", "apiserver-etcd-client.crt"),
    key: host("cp1", "apiserver-etcd-client.key"),
  };

  before(async () => {
    await generatePki(cluster, pki);
    await generatePki(cluster, otherPki);
    etcd = await startEtcd(members, pki, dir, (member, text) => {
      rejections += (text.match(/rejected connection/g) ?? []).length;
      logs = `${logs}${member}: ${text}`.slice(-4000);
    });
    endpoints = etcd.clientUrls.join(",");
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        const health = {
          ca: apiserverClient.ca,
          cert: host("cp2", "etcd/healthcheck-client.crt"),
          key: host("cp2", "etcd/healthcheck-client.key"),
        };
        etcdctl(["endpoint", "health"], health); // exits non-zero unless every endpoint is healthy
        break;
      } catch (err) {
        lastError = String((err as { stderr?: string }).stderr ?? err);
      }
      if (Date.now() > deadline)
        throw new Error(`etcd did not become healthy within 30 s: ${lastError}\n${logs}`);
      await sleep(300);
    }
  });

  after(async () => {
    await etcd?.stop();
  });

  it("forms a 3-member cluster over mutual TLS", () => {
    const list = etcdctl(["member", "list"], apiserverClient);
    for (const m of members)
      assert.match(list, new RegExp(`started, ${m.name}, https://${m.ip.replace(/\./g, "\\.")}`));
  });

  it("serves the apiserver's etcd client", () => {
    etcdctl(["put", "/registry/kubeha-test", "hello"], apiserverClient);
    assert.match(etcdctl(["get", "/registry/kubeha-test"], apiserverClient), /hello/);
  });

  /** Runs a call that must be refused, and proves etcd refused the handshake while the cluster served others. */
  async function assertRefused(creds: { ca: string; cert?: string; key?: string }) {
    const before = rejections;
    assert.throws(
      () => etcdctl(["get", "/registry/kubeha-test"], creds, "1s"),
      (err: { status?: number; stderr?: Buffer }) => {
        // etcdctl gives up on the handshake: it never gets a reply, let alone the value
        assert.notEqual(err.status, 0);
        assert.match(String(err.stderr), /deadline exceeded|certificate|handshake|connection/i);
        return true;
      },
    );
    await sleep(200); // let the log lines arrive
    assert.ok(
      rejections > before,
      `etcd logged the rejected TLS connection; log tail:\n${logs.slice(-1500)}`,
    );
    assert.match(
      etcdctl(["get", "/registry/kubeha-test"], apiserverClient),
      /hello/,
      "the cluster still serves",
    );
  }

  it("refuses a client without a certificate", async () => {
    await assertRefused({ ca: apiserverClient.ca });
  });

  it("refuses a client certificate from another CA", async () => {
    await assertRefused({
      ca: apiserverClient.ca,
      cert: join(otherPki, "hosts/cp1/pki/apiserver-etcd-client.crt"),
      key: join(otherPki, "hosts/cp1/pki/apiserver-etcd-client.key"),
    });
  });

  it("refuses plaintext", () => {
    const plain = endpoints.replace(/https:/g, "http:");
    assert.throws(
      () =>
        execFileSync(
          ETCDCTL,
          [`--endpoints=${plain}`, "--dial-timeout=1s", "--command-timeout=1s", "get", "/x"],
          {
            stdio: ["ignore", "pipe", "pipe"],
            env: { ...process.env, ETCDCTL_API: "3" },
          },
        ),
      (err: { status?: number; stderr?: Buffer }) => {
        assert.notEqual(err.status, 0);
        assert.match(String(err.stderr), /deadline exceeded|connection|EOF|malformed/i);
        return true;
      },
    );
  });
});
