/**
 * The kubelet and kube-proxy stand-ins from the renderers' command lines and
 * config files (host paths pointed at a scratch PKI), against the apiserver
 * stand-in on a real etcd; the container runtime is a small CRI server on a
 * unix socket that answers RuntimeService.Version (the lab runs containerd).
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { sleep } from "../core/wait.js";
import { etcdSkipReason, freePort, startOneMember, type TestEtcd } from "../etcd/etcd-fixtures.js";
import type { Flag } from "../kubernetes/flags.js";
import { scratch } from "../pki/pki-fixtures.js";
import { apiserverFlags, renderAuditPolicy } from "../render/control-plane.js";
import {
  kubeletConfig,
  kubeletFlags,
  kubeProxyConfig,
  kubeProxyFlags,
  renderConfig,
} from "../render/node.js";
import type { Cluster, Host } from "../spec/defaults.js";
import { type RunningStandin, startApiserverStandin } from "./apiserver.js";
import { parseCommandLine, type StandinComponent } from "./command-line.js";
import { CRI_VERSION } from "./cri.js";
import { startKubeletStandin, startKubeProxyStandin } from "./node.js";

const IP = "127.0.0.32";

/** A CRI runtime that only answers Version, on a unix socket. */
async function fakeRuntime(socket: string): Promise<grpc.Server> {
  const { path, request: req, response: res } = CRI_VERSION;
  const server = new grpc.Server();
  server.addService(
    {
      Version: {
        path,
        requestStream: false,
        responseStream: false,
        requestSerialize: (m: object) => Buffer.from(req.encode(req.fromObject(m)).finish()),
        requestDeserialize: (b: Buffer) => req.toObject(req.decode(b)),
        responseSerialize: (m: object) => Buffer.from(res.encode(res.fromObject(m)).finish()),
        responseDeserialize: (b: Buffer) => res.toObject(res.decode(b)),
      },
    },
    {
      Version: (_call: unknown, done: (err: null, r: object) => void) =>
        done(null, {
          version: "0.1.0",
          runtimeName: "fake-cri",
          runtimeVersion: "1.0",
          runtimeApiVersion: "v1",
        }),
    },
  );
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socket}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return server;
}

describe("node stand-ins", { skip: etcdSkipReason() }, () => {
  const dir = scratch("standin-node");
  const hostDir = join(dir, "pki/hosts/cp1");
  const socket = join(dir, "cri.sock");
  const env = { KUBEHA_STANDIN_VERSION: "v1.34.2" };
  let etcd: TestEtcd;
  let cluster: Cluster;
  let host: Host;
  let runtime: grpc.Server;
  let apiserver: RunningStandin;
  let kubelet: RunningStandin;
  let apiPort = 0;
  let kubeletPort = 0;
  let healthPort = 0;
  const local = (v: string) =>
    v.replaceAll("/etc/kubernetes/", `${hostDir}/`).replaceAll("/var/log/", `${dir}/log/`);
  const line = (component: StandinComponent, flags: Flag[], over: Record<string, string> = {}) =>
    parseCommandLine(
      component,
      flags.map(([n, v]) => `--${n}=${over[n] ?? local(v)}`),
      env,
    );
  const pem = (f: string) => readFileSync(join(hostDir, "pki", f), "utf8");
  /** A kubeconfig of the host pointed at the test apiserver. */
  const kubeconfig = (name: string) => {
    const file = join(dir, name);
    writeFileSync(
      file,
      readFileSync(join(hostDir, name), "utf8").replace(/server: \S+/, `server: https://${IP}:${apiPort}`),
    );
    return file;
  };
  /** The kubelet's config file, with host paths local and ports free. */
  const kubeletConfigFile = (over: Record<string, unknown> = {}) => {
    const file = join(dir, `kubelet-config-${Object.keys(over).join("-") || "plain"}.yaml`);
    const config = JSON.parse(local(JSON.stringify(kubeletConfig(cluster, host))));
    writeFileSync(
      file,
      renderConfig({
        ...config,
        port: kubeletPort,
        healthzPort: healthPort,
        containerRuntimeEndpoint: `unix://${socket}`,
        nodeStatusUpdateFrequency: "500ms",
        ...over,
      }),
    );
    return file;
  };
  const kubeletLine = (over: Record<string, unknown> = {}) =>
    line("kubelet", kubeletFlags(cluster, host), {
      config: kubeletConfigFile(over),
      kubeconfig: kubeconfig("kubelet.conf"),
    });
  const get = (
    path: string,
    port: number,
    who: { cert?: string; key?: string } = {},
  ): Promise<{ status: number; body: string }> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: IP,
          port,
          path,
          ca: readFileSync(join(dir, "pki/ca.crt")),
          agent: false,
          timeout: 4000,
          ...who,
        },
        (res) => {
          let body = "";
          res.on("data", (d) => (body += d));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end();
    });
  const admin = () => ({
    cert: pem("apiserver-kubelet-client.crt"),
    key: pem("apiserver-kubelet-client.key"),
  });
  const kubeletClient = () => {
    const text = readFileSync(join(hostDir, "kubelet.conf"), "utf8");
    const data = (k: string) =>
      Buffer.from(new RegExp(`${k}: (\\S+)`).exec(text)?.[1] ?? "", "base64").toString();
    return { cert: data("client-certificate-data"), key: data("client-key-data") };
  };

  before(async () => {
    ({ etcd, cluster } = await startOneMember(IP, dir));
    host = cluster.hosts[0] as Host;
    writeFileSync(join(hostDir, "audit-policy.yaml"), renderAuditPolicy());
    runtime = await fakeRuntime(socket);
    [apiPort, kubeletPort, healthPort] = [
      await freePort([IP]),
      await freePort([IP]),
      await freePort(["127.0.0.1"]),
    ];
    apiserver = await startApiserverStandin(
      line("kube-apiserver", apiserverFlags(cluster, host), {
        "etcd-servers": etcd.clientUrls.join(","),
        "secure-port": String(apiPort),
        "shutdown-delay-duration": "0s",
      }),
    );
    for (let i = 0; i < 60 && (await get("/readyz", apiPort)).status !== 200; i++) await sleep(250);
    kubelet = await startKubeletStandin(kubeletLine());
  });
  after(async () => {
    await kubelet?.shutdown();
    await apiserver?.shutdown();
    runtime?.forceShutdown();
    await etcd.stop();
  });

  it("registers its Node through its kubeconfig, and the apiserver reaches it back over mutual TLS", async () => {
    let node = await get("/api/v1/nodes/cp1", apiPort, admin());
    for (let i = 0; i < 20 && node.status !== 200; i++) {
      await sleep(250);
      node = await get("/api/v1/nodes/cp1", apiPort, admin());
    }
    assert.equal(node.status, 200, node.body);
    const n = JSON.parse(node.body);
    assert.deepEqual(n.status.addresses[0], { type: "InternalIP", address: IP });
    assert.equal(n.status.daemonEndpoints.kubeletEndpoint.Port, kubeletPort);
    assert.equal(n.metadata.labels["kubeha.io/controlplane"], "true");
    assert.deepEqual(n.spec.taints, [{ key: "node-role.kubernetes.io/control-plane", effect: "NoSchedule" }]);
    assert.equal(n.status.nodeInfo.containerRuntimeVersion, "fake-cri://1.0");
    const list = JSON.parse((await get("/api/v1/nodes", apiPort, admin())).body);
    assert.deepEqual(
      list.items.map((i: { metadata: { name: string } }) => i.metadata.name),
      ["cp1"],
    );
    const proxied = await get("/api/v1/nodes/cp1/proxy/healthz", apiPort, admin());
    assert.deepEqual([proxied.status, proxied.body], [200, "ok"]);
  });

  it("lets a kubelet write only its own Node, as NodeRestriction does", async () => {
    const other = await new Promise<number>((resolve, reject) => {
      const req = request(
        {
          host: IP,
          port: apiPort,
          path: "/api/v1/nodes/w9",
          method: "PUT",
          ca: readFileSync(join(dir, "pki/ca.crt")),
          agent: false,
          ...kubeletClient(),
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify({ kind: "Node", metadata: { name: "w9" } }));
    });
    assert.equal(other, 403);
    const proxied = await get("/api/v1/nodes/cp1/proxy/healthz", apiPort, kubeletClient());
    assert.equal(proxied.status, 403, "a kubelet may not use the node proxy");
  });

  it("serves its port only to clients of the cluster CA that may use it", async () => {
    assert.equal((await get("/healthz", kubeletPort)).status, 401, "anonymous refused");
    assert.equal(
      (await get("/healthz", kubeletPort, kubeletClient())).status,
      403,
      "a node's identity is not allowed",
    );
    assert.deepEqual(
      [
        (await get("/healthz", kubeletPort, admin())).status,
        (await get("/pods", kubeletPort, admin())).status,
      ],
      [200, 200],
    );
  });

  it("refuses unknown config fields and a runtime that does not answer, as the real kubelet does", async () => {
    await assert.rejects(
      startKubeletStandin(kubeletLine({ tlsCurvePreferences: ["X25519"] })),
      /strict decoding error: unknown field "tlsCurvePreferences"/,
    );
    await assert.rejects(
      startKubeletStandin(kubeletLine({ containerRuntimeEndpoint: `unix://${dir}/no-runtime.sock` })),
      /validate CRI v1 runtime API for endpoint "unix:\/\/.*no-runtime\.sock"/,
    );
    await assert.rejects(
      startKubeletStandin(kubeletLine({ tlsPrivateKeyFile: join(hostDir, "pki/apiserver.key") })),
      /tlsPrivateKeyFile is not the key of tlsCertFile/,
    );
  });

  it("kube-proxy: healthy while the API accepts it, and strict about its config", async () => {
    const port = await freePort([IP]);
    const configFile = (over: Record<string, unknown> = {}) => {
      const file = join(dir, `kube-proxy-${Object.keys(over).join("-") || "plain"}.yaml`);
      writeFileSync(
        file,
        renderConfig({
          ...kubeProxyConfig(cluster, host),
          clientConnection: { kubeconfig: kubeconfig("kube-proxy.conf") },
          healthzBindAddress: `${IP}:${port}`,
          ...over,
        }),
      );
      return file;
    };
    await assert.rejects(
      startKubeProxyStandin(
        line("kube-proxy", kubeProxyFlags(cluster), { config: configFile({ iptables: { sync: 1 } }) }),
      ),
      /unknown field "iptables\.sync"/,
    );
    const proxy = await startKubeProxyStandin(
      line("kube-proxy", kubeProxyFlags(cluster), { config: configFile() }),
    );
    try {
      const health = () =>
        fetch(`http://${IP}:${port}/healthz`).then(async (r) => ({
          status: r.status,
          body: (await r.json()) as { standin?: boolean },
        }));
      let h = await health();
      for (let i = 0; i < 20 && h.status !== 200; i++) {
        await sleep(250);
        h = await health();
      }
      assert.equal(h.status, 200);
      assert.equal(h.body.standin, true);
    } finally {
      await proxy.shutdown();
    }
  });
});
