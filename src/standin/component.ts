/**
 * The kube-controller-manager and kube-scheduler STAND-INs of the lab: they
 * run from the real units with the real flags (the scheduler's kubeconfig
 * from its --config file, as the real one reads it), read every file those
 * name, and then do what the HA layer depends on: authenticate to the
 * apiserver at their kubeconfig's `server:` with its client certificate,
 * once a second over one kept-alive connection, and serve /healthz, /livez
 * and /readyz on --bind-address:--secure-port with --tls-cert-file, healthy
 * while the apiserver accepted them within the last HEALTHY_MS. A
 * certificate from another CA is refused by the apiserver stand-in, so a
 * wrong kubeconfig leaves the component unhealthy, as it would for real.
 * They do not elect a leader or run controllers: there is no API to act on.
 */

import { X509Certificate } from "node:crypto";
import { Agent, createServer, request } from "node:https";
import type { Socket } from "node:net";
import type { RunningStandin } from "./apiserver.js";
import type { CommandLine } from "./command-line.js";
import { type Kubeconfig, NamedFiles } from "./files.js";

const DEFAULT_PORTS = { "kube-controller-manager": 10257, "kube-scheduler": 10259 } as const;
const POLL_MS = 1000;
const HEALTHY_MS = 5000;

/** One request through a kubeconfig's identity: status code and body. */
export function apiRequest(
  kc: Kubeconfig,
  agent: Agent,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ code: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${kc.server.replace(/\/+$/, "")}${path}`,
      { method, agent, timeout: 3000, headers: body ? { "content-type": "application/json" } : {} },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => (text += d));
        res.on("end", () => resolve({ code: res.statusCode ?? 0, body: text }));
      },
    );
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** A kept-alive HTTPS agent with a kubeconfig's CA and client certificate. */
export const agentFor = (kc: Kubeconfig) =>
  new Agent({ keepAlive: true, maxSockets: 2, ca: kc.caPem, cert: kc.certPem, key: kc.keyPem });

/**
 * Authenticates to the apiserver at a kubeconfig's `server:` with its client
 * certificate once a second over one kept-alive connection; healthy while
 * the apiserver accepted it within the last HEALTHY_MS. Shared by the
 * stand-ins that only need to show they can reach the API.
 */
export function apiLiveness(kubeconfig: Kubeconfig) {
  const user = new X509Certificate(kubeconfig.certPem).subject;
  const agent = agentFor(kubeconfig);
  let lastOk = 0;
  let lastError = "not yet connected";
  let stopped = false;
  void (async () => {
    while (!stopped) {
      try {
        const { code } = await apiRequest(kubeconfig, agent, "GET", "/api");
        if (code === 200) lastOk = Date.now();
        else lastError = `${kubeconfig.server} answered ${code} to ${user}`;
      } catch (err) {
        lastError = `${kubeconfig.server}: ${(err as Error).message}`;
      }
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  })();
  return {
    healthy: () => Date.now() - lastOk < HEALTHY_MS,
    lastError: () => lastError,
    stop: () => {
      stopped = true;
      agent.destroy();
    },
  };
}

/** Starts the controller-manager or scheduler stand-in from its command line. */
export async function startComponentStandin(cl: CommandLine): Promise<RunningStandin> {
  if (cl.component !== "kube-controller-manager" && cl.component !== "kube-scheduler")
    throw new Error(`no controller stand-in for ${cl.component}`);
  const flag = (name: string, fallback = "") => cl.flags.get(name) ?? fallback;
  const files = new NamedFiles(cl.component, cl.flags);
  let kubeconfigPath: string | undefined;
  if (cl.component === "kube-scheduler") {
    const config = files.yaml("config");
    if (config.kind !== "KubeSchedulerConfiguration") {
      throw new Error(`--config ${flag("config")}: not a KubeSchedulerConfiguration`);
    }
    kubeconfigPath = (config.clientConnection as { kubeconfig?: string } | undefined)?.kubeconfig;
    if (!kubeconfigPath) throw new Error(`--config ${flag("config")}: clientConnection.kubeconfig is empty`);
  }
  const kubeconfig = kubeconfigPath
    ? files.kubeconfig("config", kubeconfigPath)
    : files.kubeconfig("kubeconfig");
  const api = apiLiveness(kubeconfig);

  const sockets = new Set<Socket>();
  const server = createServer(
    { cert: files.pem("tls-cert-file"), key: files.pem("tls-private-key-file") },
    (req, res) => {
      res.setHeader("X-Kubeha-Standin", "true");
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      if (!/^\/(healthz|livez|readyz)$/.test(path)) return res.writeHead(404).end("404 page not found\n");
      const healthy = api.healthy();
      res
        .writeHead(healthy ? 200 : 500)
        .end(
          healthy
            ? "ok"
            : `[-]apiserver-connection failed: ${api.lastError()} (kubeha ${cl.component} stand-in)\n`,
        );
    },
  );
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const port = Number(flag("secure-port", String(DEFAULT_PORTS[cl.component])));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, flag("bind-address", "0.0.0.0"), () => resolve());
  });
  return {
    port,
    shutdown: async () => {
      api.stop();
      server.close();
      for (const s of sockets) s.destroy();
    },
  };
}
