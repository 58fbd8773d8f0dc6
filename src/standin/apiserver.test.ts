/**
 * The control-plane stand-ins from the real components' command lines (the
 * renderers' flags, with /etc/kubernetes pointed at a scratch PKI), against a
 * real etcd over mutual TLS.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sleep } from "../core/wait.js";
import { etcdSkipReason, freePort, startOneMember, type TestEtcd } from "../etcd/etcd-fixtures.js";
import type { Flag } from "../kubernetes/flags.js";
import { scratch } from "../pki/pki-fixtures.js";
import {
  apiserverFlags,
  controllerManagerFlags,
  renderAuditPolicy,
  renderSchedulerConfig,
  schedulerFlags,
} from "../render/control-plane.js";
import type { Cluster, Host } from "../spec/defaults.js";
import { type RunningStandin, startApiserverStandin } from "./apiserver.js";
import { type CommandLine, parseCommandLine, type StandinComponent } from "./command-line.js";
import { startComponentStandin } from "./component.js";

const IP = "127.0.0.31";

describe("control-plane stand-ins", { skip: etcdSkipReason() }, () => {
  const dir = scratch("standin");
  const pki = join(dir, "pki");
  const hostDir = join(pki, "hosts/cp1");
  let etcd: TestEtcd;
  let cluster: Cluster;
  let apiserver: RunningStandin;
  let port = 0;
  let ca = "";
  const env = { KUBEHA_STANDIN_VERSION: "v1.34.2" };
  const local = (v: string) =>
    v.replaceAll("/etc/kubernetes/", `${hostDir}/`).replaceAll("/var/log/", `${dir}/log/`);

  /** The command line the unit would run, with host paths under the scratch PKI. */
  const commandLine = (component: StandinComponent, flags: Flag[], over: Record<string, string> = {}) =>
    parseCommandLine(
      component,
      flags.map(([n, v]) => `--${n}=${over[n] ?? local(v)}`),
      env,
    );
  const apiserverLine = (over: Record<string, string> = {}) =>
    commandLine("kube-apiserver", apiserverFlags(cluster, cluster.hosts[0] as Host), {
      "etcd-servers": etcd.clientUrls.join(","),
      "secure-port": String(port),
      ...over,
    });

  const get = (
    path: string,
    opts: { host?: string; port?: number; cert?: string; key?: string } = {},
  ): Promise<{ status: number; body: string; standin: string | undefined }> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: opts.host ?? IP,
          port: opts.port ?? port,
          path,
          ca,
          agent: false,
          timeout: 4000,
          ...(opts.cert && { cert: opts.cert, key: opts.key }),
        },
        (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () =>
            resolve({
              status: res.statusCode ?? 0,
              body,
              standin: res.headers["x-kubeha-standin"] as string | undefined,
            }),
          );
        },
      );
      req.on("error", reject);
      req.end();
    });
  const pem = (f: string) => readFileSync(join(hostDir, "pki", f), "utf8");

  before(async () => {
    ({ etcd, cluster } = await startOneMember(IP, dir));
    ca = readFileSync(join(pki, "ca.crt"), "utf8");
    writeFileSync(join(hostDir, "audit-policy.yaml"), renderAuditPolicy());
    writeFileSync(join(hostDir, "scheduler-config.yaml"), local(renderSchedulerConfig()));
    port = await freePort([IP]);
    apiserver = await startApiserverStandin(apiserverLine({ "shutdown-delay-duration": "800ms" }));
    for (let i = 0; i < 60 && (await get("/readyz")).status !== 200; i++) await sleep(250);
  });
  after(async () => {
    await etcd.stop();
  });

  it("parses the command line as strictly as the real binary", () => {
    const flags = apiserverFlags(cluster, cluster.hosts[0] as Host);
    assert.equal(apiserverLine().flags.get("authorization-mode"), "Node,RBAC");
    assert.throws(
      () => parseCommandLine("kube-apiserver", ["--no-such-flag=1"], env),
      /unknown flag: --no-such-flag/,
    );
    assert.throws(
      () => parseCommandLine("kube-apiserver", ["--tls-curve-preferences=X25519"], env),
      /unknown flag: --tls-curve-preferences/,
      "a flag of v1.36 is unknown to v1.34",
    );
    assert.throws(() => parseCommandLine("kube-apiserver", ["extra"], env), /does not take any arguments/);
    assert.throws(
      () => parseCommandLine("kube-scheduler", ["--kubeconfig-typo=/x"], env),
      /unknown flag: --kubeconfig-typo/,
    );
    assert.throws(() => parseCommandLine("kube-apiserver", [], {}), /KUBEHA_STANDIN_VERSION is not set/);
    assert.ok(flags.length > 30);
  });

  it("refuses missing files, keys of other certificates and certificates of other CAs, naming the flag", async () => {
    const refuse = (over: Record<string, string>, message: RegExp) =>
      assert.rejects(startApiserverStandin(apiserverLine(over)), message);
    await refuse(
      { "client-ca-file": "/nonexistent/ca.crt" },
      /--client-ca-file: open \/nonexistent\/ca.crt: no such file/,
    );
    await refuse(
      { "tls-private-key-file": join(hostDir, "pki/front-proxy-client.key") },
      /--tls-private-key-file .* is not the key of --tls-cert-file .*private key does not match/,
    );
    await refuse(
      {
        "etcd-certfile": join(hostDir, "pki/apiserver-kubelet-client.crt"),
        "etcd-keyfile": join(hostDir, "pki/apiserver-kubelet-client.key"),
      },
      /--etcd-certfile .* is not signed by --etcd-cafile .*unknown authority/,
    );
    await refuse(
      { "service-account-key-file": join(hostDir, "pki/ca.crt") },
      /--service-account-key-file .* does not verify what --service-account-signing-key-file signs/,
    );
    const badKey = join(dir, "encryption-short.yaml");
    writeFileSync(
      badKey,
      readFileSync(join(hostDir, "encryption-config.yaml"), "utf8").replace(
        /secret: \S+/,
        "secret: c2hvcnQ=",
      ),
    );
    await refuse({ "encryption-provider-config": badKey }, /secretbox key .*a 5-byte secret, want 32/);
  });

  it("serves TLS with the apiserver certificate, says it is a stand-in, and checks client certificates", async () => {
    const version = await get("/version");
    assert.equal(version.status, 200);
    assert.equal(JSON.parse(version.body).standin, true);
    assert.equal(JSON.parse(version.body).gitVersion, "v1.34.2-kubeha-standin");
    assert.equal(version.standin, "true");
    assert.equal((await get("/livez")).status, 200, "anonymous may probe");
    assert.equal((await get("/api")).status, 403, "anonymous may not read the API");
    const admin = { cert: pem("apiserver-kubelet-client.crt"), key: pem("apiserver-kubelet-client.key") };
    const api = await get("/api", admin);
    assert.equal(api.status, 200, api.body);
    assert.equal(JSON.parse(api.body).kind, "APIVersions");
    const stranger = { cert: pem("apiserver-etcd-client.crt"), key: pem("apiserver-etcd-client.key") };
    assert.equal((await get("/api", stranger)).status, 401, "a certificate of the etcd CA is not a user");
    const audit = readFileSync(join(dir, "log/kubernetes/audit/audit.log"), "utf8");
    assert.match(audit, /"username":"kube-apiserver-kubelet-client"/, "authenticated requests are audited");
  });

  it("runs the controller manager and scheduler from their command lines, healthy while the apiserver accepts them", async () => {
    const conf = (file: string, server: string) => {
      const path = join(dir, file);
      writeFileSync(
        path,
        readFileSync(join(hostDir, file), "utf8").replace(/server: \S+/, `server: ${server}`),
      );
      return path;
    };
    const server = `https://${IP}:${port}`;
    const kcmConf = conf("controller-manager.conf", server);
    const schedConf = conf("scheduler.conf", server);
    writeFileSync(
      join(dir, "scheduler-config.yaml"),
      renderSchedulerConfig().replace(/kubeconfig: \S+/, `kubeconfig: ${schedConf}`),
    );
    const started: RunningStandin[] = [];
    try {
      const kcmPort = await freePort(["127.0.0.1"]);
      const run = async (cl: CommandLine) => {
        const s = await startComponentStandin(cl);
        started.push(s);
        return s;
      };
      await run(
        commandLine("kube-controller-manager", controllerManagerFlags(cluster), {
          kubeconfig: kcmConf,
          "authentication-kubeconfig": kcmConf,
          "authorization-kubeconfig": kcmConf,
          "bind-address": "127.0.0.1",
          "secure-port": String(kcmPort),
        }),
      );
      const schedPort = await freePort(["127.0.0.1"]);
      await run(
        commandLine("kube-scheduler", schedulerFlags(cluster), {
          config: join(dir, "scheduler-config.yaml"),
          "authentication-kubeconfig": schedConf,
          "authorization-kubeconfig": schedConf,
          "bind-address": "127.0.0.1",
          "secure-port": String(schedPort),
        }),
      );
      for (const p of [kcmPort, schedPort]) {
        let r = await get("/healthz", { host: "127.0.0.1", port: p });
        for (let i = 0; i < 20 && r.status !== 200; i++) {
          await sleep(250);
          r = await get("/healthz", { host: "127.0.0.1", port: p });
        }
        assert.equal(r.status, 200, r.body);
        assert.equal(r.standin, "true");
      }

      // a kubeconfig whose client certificate the apiserver does not accept: never healthy
      const wrong = join(dir, "wrong.conf");
      const kcm = readFileSync(kcmConf, "utf8");
      const b64 = (f: string) => Buffer.from(pem(f)).toString("base64");
      writeFileSync(
        wrong,
        kcm
          .replace(
            /client-certificate-data: \S+/,
            `client-certificate-data: ${b64("apiserver-etcd-client.crt")}`,
          )
          .replace(/client-key-data: \S+/, `client-key-data: ${b64("apiserver-etcd-client.key")}`),
      );
      const wrongPort = await freePort(["127.0.0.1"]);
      await run(
        commandLine("kube-controller-manager", controllerManagerFlags(cluster), {
          kubeconfig: wrong,
          "bind-address": "127.0.0.1",
          "secure-port": String(wrongPort),
        }),
      );
      await sleep(2500);
      const r = await get("/healthz", { host: "127.0.0.1", port: wrongPort });
      assert.equal(r.status, 500);
      assert.match(r.body, /answered 401/);
    } finally {
      for (const s of started) await s.shutdown();
    }
  });

  it("is ready while an etcd read succeeds, and not when etcd is gone", async () => {
    assert.equal((await get("/readyz")).status, 200);
    etcd.kill("cp1");
    await sleep(200);
    const t0 = Date.now();
    const r = await get("/readyz");
    assert.equal(r.status, 503);
    assert.match(r.body, /etcd read failed/);
    assert.ok(Date.now() - t0 < 2600, "answers within the 2 s read bound");
    assert.equal((await get("/livez")).status, 200, "still live");
  });

  it("fails /readyz at once on shutdown, serves through the delay, then closes", async () => {
    const done = apiserver.shutdown();
    const r = await get("/readyz");
    assert.equal(r.status, 503);
    assert.match(r.body, /shutting down/);
    assert.equal((await get("/livez")).status, 200, "still serving during the delay");
    await done;
    await assert.rejects(get("/livez"), /ECONNREFUSED/, "closed after the delay");
  });
});
