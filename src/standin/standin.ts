/**
 * The apiserver STAND-IN for the lab (ARCHITECTURE §6): the Kubernetes
 * control-plane binaries cannot be had on these machines, so this small
 * server gives the HA layer what it depends on, with the real semantics:
 *
 * - TLS on the apiserver's address and port with the generated apiserver certificate;
 * - /readyz succeeds only while a linearizable etcd read (through the
 *   apiserver-etcd-client certificate, over gRPC) succeeds within
 *   2 s, and fails at once when a shutdown begins;
 * - /livez, /version, and /watch, a stream with a line every second like a watch;
 * - on SIGTERM it keeps serving for the shutdown delay (so load balancers see
 *   /readyz fail and drain it), then closes.
 *
 * Every response carries `X-Kubeha-Standin: true`; /version says "standin".
 */
import { readFileSync } from "node:fs";
import { createServer } from "node:https";
import type { Socket } from "node:net";
import { splitHostPort } from "../core/ip.js";
import { sleep } from "../core/wait.js";
import { EtcdClient, readEtcdTls } from "../etcd/client.js";
import { STANDIN_PROBE_KEY } from "../etcd/keyspace.js";
import { type StandinConfig, StandinConfigSchema } from "./config.js";

const READ_TIMEOUT_MS = 2000;
const HEDGE_MS = 150;

/**
 * A linearizable read within 2 s through any etcd endpoint, hedged like a
 * real apiserver's balancing client: the first endpoint (this host's own
 * member) is asked at once, each next one HEDGE_MS later while none has
 * answered, so one dead or silent member does not make every apiserver
 * unready for longer than a load balancer's check timeout.
 */
function etcdRead(etcd: EtcdClient): Promise<boolean> {
  const deadline = Date.now() + READ_TIMEOUT_MS;
  return new Promise((resolve) => {
    let asked = 0;
    let failed = 0;
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearInterval(hedge);
      resolve(ok);
    };
    // the next endpoint is asked when one fails, or when HEDGE_MS pass without an answer
    const next = () => {
      if (done || asked >= etcd.size) return;
      etcd.get(STANDIN_PROBE_KEY, { timeoutMs: Math.max(1, deadline - Date.now()), endpoint: asked++ }).then(
        () => finish(true),
        () => (++failed === etcd.size ? finish(false) : next()),
      );
    };
    const hedge = setInterval(next, HEDGE_MS);
    next();
  });
}

/** A running stand-in. */
export interface RunningStandin {
  readonly port: number;
  /** Begins the shutdown: /readyz fails now, connections close after the delay. */
  shutdown(): Promise<void>;
}

/** Starts the stand-in from a config file (or an already parsed config). */
export async function startStandin(source: string | StandinConfig): Promise<RunningStandin> {
  const cfg =
    typeof source === "string" ? StandinConfigSchema.parse(JSON.parse(readFileSync(source, "utf8"))) : source;
  const etcd = new EtcdClient(cfg.etcd.endpoints, readEtcdTls(cfg.etcd), READ_TIMEOUT_MS);
  const sockets = new Set<Socket>();
  let shuttingDown = false;
  const [major, minor] = cfg.kubernetesVersion.replace(/^v/, "").split(".");

  const server = createServer(
    { cert: readFileSync(cfg.certFile), key: readFileSync(cfg.keyFile) },
    async (req, res) => {
      res.setHeader("X-Kubeha-Standin", "true");
      const path = (req.url ?? "/").split("?")[0];
      if (path === "/livez" || path === "/healthz") return res.writeHead(200).end("ok");
      if (path === "/readyz") {
        if (shuttingDown) return res.writeHead(503).end("shutting down (kubeha apiserver stand-in)");
        const ok = await etcdRead(etcd);
        return res.writeHead(ok ? 200 : 503).end(ok ? "ok" : "etcd read failed (kubeha apiserver stand-in)");
      }
      if (path === "/version") {
        return res.writeHead(200, { "content-type": "application/json" }).end(
          JSON.stringify({
            major,
            minor,
            gitVersion: `${cfg.kubernetesVersion}-kubeha-standin`,
            platform: `${process.platform}/${process.arch}`,
            standin: true,
          }),
        );
      }
      if (path === "/watch") {
        res.writeHead(200, { "content-type": "application/json" });
        const line = () =>
          res.write(
            `${JSON.stringify({ type: "BOOKMARK", host: cfg.host, time: new Date().toISOString(), standin: true })}\n`,
          );
        line();
        const t = setInterval(line, 1000);
        res.on("close", () => clearInterval(t));
        return;
      }
      res.writeHead(200, { "content-type": "text/plain" }).end(`kubeha apiserver stand-in on ${cfg.host}\n`);
    },
  );
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const { host, port } = splitHostPort(cfg.listen);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : port,
    shutdown: async () => {
      shuttingDown = true;
      await sleep(cfg.shutdownDelayMs);
      server.close();
      for (const s of sockets) s.destroy();
      etcd.close();
    },
  };
}
