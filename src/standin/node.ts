/**
 * The kubelet and kube-proxy STAND-INs of the lab (ARCHITECTURE §6): they
 * run from the real units with the real flags and config files and fail
 * where the real binaries would:
 *
 * - the config file (--config) must be a KubeletConfiguration /
 *   KubeProxyConfiguration whose every field the version knows (strict
 *   decoding, as the real ones do since v1.26), and every file it names
 *   must parse (certificates, keys that match them, kubeconfigs);
 * - the kubelet asks the container runtime for its version over CRI
 *   (containerRuntimeEndpoint) before anything else, and exits when it does
 *   not answer; it registers its Node through its kubeconfig every
 *   nodeStatusUpdateFrequency (the apiserver stand-in lets only
 *   system:node:<name> write Node <name>, as NodeRestriction does); it
 *   serves address:port over TLS with tlsCertFile, authenticating clients
 *   against authentication.x509.clientCAFile (anonymous refused, 401) and
 *   allowing system:masters (the apiserver's kubelet client) what the
 *   webhook authorizer would; /healthz on healthzBindAddress:healthzPort;
 * - kube-proxy authenticates to the API through clientConnection.kubeconfig
 *   once a second and serves healthzBindAddress, healthy while the API
 *   accepted it within the last 5 s.
 *
 * They run no pods and program no rules. Every response says STAND-IN.
 */
import { createServer as createHttpServer, type Server } from "node:http";
import { createServer } from "node:https";
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { fieldProblems } from "../kubernetes/flags.js";
import type { RunningStandin } from "./apiserver.js";
import type { CommandLine } from "./command-line.js";
import { parseDuration } from "./command-line.js";
import { agentFor, apiLiveness, apiRequest } from "./component.js";
import { criVersion } from "./cri.js";
import { NamedFiles, readContent } from "./files.js";

/** The config file of --config, checked field by field like strict decoding. */
function configFile(cl: CommandLine, files: NamedFiles, kind: string, apiVersion: string) {
  const path = cl.flags.get("config") ?? "";
  if (!files.has("config")) throw new Error(`--config is required (kubeha ${cl.component} stand-in)`);
  const config = files.yaml("config");
  if (config.kind !== kind || config.apiVersion !== apiVersion) {
    throw new Error(`failed to load config file, path: ${path}: not a ${apiVersion} ${kind}`);
  }
  const problems = fieldProblems(kind as "KubeletConfiguration", cl.version, config);
  if (problems.length > 0) {
    throw new Error(
      `failed to load config file, path: ${path}, error: strict decoding error: ${problems.join(", ")}`,
    );
  }
  return config;
}

/** A file a config field names, read and checked like a flag's (`field` names it in errors). */
function named(field: string, path: unknown) {
  if (typeof path !== "string" || !path) throw new Error(`${field} is empty`);
  try {
    return readContent(path);
  } catch (err) {
    throw new Error(`${field}: ${(err as Error).message}`);
  }
}

function listen(server: Server, address: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, address, () => resolve());
  });
}

/** Tracks a server's sockets so that shutdown can end them. */
function tracked<S extends Server>(server: S): S & { destroyAll(): void } {
  const sockets = new Set<Socket>();
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const destroyAll = () => {
    for (const s of sockets) s.destroy();
  };
  return Object.assign(server, { destroyAll });
}

/** Starts the kubelet stand-in from its command line. */
export async function startKubeletStandin(cl: CommandLine): Promise<RunningStandin> {
  const files = new NamedFiles(cl.component, cl.flags);
  const config = configFile(cl, files, "KubeletConfiguration", "kubelet.config.k8s.io/v1beta1");
  const auth = (config.authentication ?? {}) as {
    x509?: { clientCAFile?: string };
    anonymous?: { enabled?: boolean };
  };
  const cert = named("tlsCertFile", config.tlsCertFile);
  const key = named("tlsPrivateKeyFile", config.tlsPrivateKeyFile);
  const clientCa = named("authentication.x509.clientCAFile", auth.x509?.clientCAFile);
  if (cert.kind !== "certs" || key.kind !== "private-key" || clientCa.kind !== "certs")
    throw new Error("tlsCertFile, tlsPrivateKeyFile and authentication.x509.clientCAFile must be PEM files");
  if (!cert.certs[0]?.checkPrivateKey(key.key))
    throw new Error(
      "tlsPrivateKeyFile is not the key of tlsCertFile: tls: private key does not match public key",
    );

  const endpoint = String(config.containerRuntimeEndpoint ?? "unix:///run/containerd/containerd.sock");
  let runtime: Awaited<ReturnType<typeof criVersion>>;
  try {
    runtime = await criVersion(endpoint);
  } catch (err) {
    throw new Error(
      `failed to run Kubelet: validate service connection: validate CRI v1 runtime API for endpoint "${endpoint}": ${(err as Error).message}`,
    );
  }

  const kubeconfig = files.kubeconfig("kubeconfig");
  const agent = agentFor(kubeconfig);
  const nodeName = cl.flags.get("hostname-override") ?? "";
  if (!nodeName) throw new Error("--hostname-override is required by the kubeha kubelet stand-in");
  const port = Number(config.port ?? 10250);
  const labels = Object.fromEntries(
    (cl.flags.get("node-labels") ?? "")
      .split(",")
      .filter(Boolean)
      .map((l) => l.split("=", 2) as [string, string]),
  );
  const node = () => ({
    kind: "Node",
    apiVersion: "v1",
    metadata: { name: nodeName, labels: { ...labels, "kubernetes.io/hostname": nodeName } },
    spec: { taints: config.registerWithTaints ?? [] },
    status: {
      addresses: [
        { type: "InternalIP", address: cl.flags.get("node-ip") ?? String(config.address ?? "") },
        { type: "Hostname", address: nodeName },
      ],
      daemonEndpoints: { kubeletEndpoint: { Port: port } },
      nodeInfo: {
        kubeletVersion: `${cl.version}-kubeha-standin`,
        containerRuntimeVersion: `${runtime.runtimeName}://${runtime.runtimeVersion}`,
      },
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "KubeletReady",
          message: "kubeha kubelet STAND-IN: registered; runs no pods",
          lastHeartbeatTime: new Date().toISOString(),
        },
      ],
    },
  });
  const every = parseDuration(String(config.nodeStatusUpdateFrequency ?? "10s"));
  let stopped = false;
  const register = async () => {
    while (!stopped) {
      try {
        const r = await apiRequest(kubeconfig, agent, "PUT", `/api/v1/nodes/${nodeName}`, node());
        if (r.code >= 300) process.stderr.write(`node registration: ${r.code} ${r.body}\n`);
      } catch (err) {
        process.stderr.write(`node registration: ${(err as Error).message}\n`);
      }
      await new Promise((r) => setTimeout(r, stopped ? 0 : every));
    }
  };
  void register();

  const server = tracked(
    createServer(
      { cert: cert.pem, key: key.pem, ca: clientCa.pem, requestCert: true, rejectUnauthorized: false },
      (req, res) => {
        res.setHeader("X-Kubeha-Standin", "true");
        const socket = req.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        if (!socket.authorized || !peer?.subject) return res.writeHead(401).end("Unauthorized");
        const groups = [peer.subject.O ?? []].flat().map(String);
        const user = String(peer.subject.CN);
        const path = (req.url ?? "/").split("?")[0] ?? "/";
        if (!groups.includes("system:masters")) {
          const resource = path.split("/")[1] || "proxy";
          return res
            .writeHead(403)
            .end(`Forbidden (user=${user}, verb=get, resource=nodes, subresource=${resource})`);
        }
        if (path === "/healthz") return res.writeHead(200).end("ok");
        if (path === "/pods")
          return res
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ kind: "PodList", apiVersion: "v1", items: [] }));
        if (path === "/configz")
          return res
            .writeHead(200, { "content-type": "application/json" })
            .end(JSON.stringify({ kubeletconfig: config, standin: true }));
        return res.writeHead(404).end("404 page not found (kubeha kubelet stand-in)\n");
      },
    ),
  );
  const health = tracked(
    createHttpServer((_req, res) => res.writeHead(200, { "X-Kubeha-Standin": "true" }).end("ok")),
  );
  await listen(server, String(config.address ?? "0.0.0.0"), port);
  await listen(health, String(config.healthzBindAddress ?? "127.0.0.1"), Number(config.healthzPort ?? 10248));
  return {
    port,
    shutdown: async () => {
      stopped = true;
      server.close();
      health.close();
      server.destroyAll();
      health.destroyAll();
      agent.destroy();
    },
  };
}

/** Starts the kube-proxy stand-in from its command line. */
export async function startKubeProxyStandin(cl: CommandLine): Promise<RunningStandin> {
  const files = new NamedFiles(cl.component, cl.flags);
  const config = configFile(cl, files, "KubeProxyConfiguration", "kubeproxy.config.k8s.io/v1alpha1");
  const kcPath = (config.clientConnection as { kubeconfig?: string } | undefined)?.kubeconfig;
  if (!kcPath) throw new Error("clientConnection.kubeconfig is empty");
  const kubeconfig = files.kubeconfig("config", kcPath);
  const api = apiLiveness(kubeconfig);
  const [address = "0.0.0.0", port = "10256"] = String(config.healthzBindAddress ?? "0.0.0.0:10256").split(
    /:(?=\d+$)/,
  );
  const health = tracked(
    createHttpServer((_req, res) => {
      const healthy = api.healthy();
      res
        .writeHead(healthy ? 200 : 503, { "content-type": "application/json", "X-Kubeha-Standin": "true" })
        .end(JSON.stringify({ healthy, lastError: healthy ? undefined : api.lastError(), standin: true }));
    }),
  );
  await listen(health, address, Number(port));
  return {
    port: Number(port),
    shutdown: async () => {
      api.stop();
      health.close();
      health.destroyAll();
    },
  };
}
