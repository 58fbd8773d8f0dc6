/**
 * The kube-apiserver STAND-IN for the lab (ARCHITECTURE §6): the Kubernetes
 * control-plane binaries cannot be had on these machines, so this small
 * server runs from the real unit, with the real flags and files, and gives
 * the HA layer what it depends on with the real semantics:
 *
 * - TLS on --bind-address:--secure-port with --tls-cert-file; every file a
 *   flag names is read and checked at start (files.ts);
 * - client certificates checked against --client-ca-file: a verified one is
 *   a user (CN) with groups (O), a certificate from another CA gets 401, no
 *   certificate is system:anonymous, allowed only /healthz, /livez, /readyz
 *   and /version (403 elsewhere), as the real RBAC defaults allow;
 * - /readyz succeeds only while a linearizable etcd read (--etcd-servers,
 *   through --etcd-certfile, over gRPC) succeeds within 2 s, and fails at
 *   once when a shutdown begins; on SIGTERM it keeps serving for
 *   --shutdown-delay-duration (so load balancers drain it), then stops
 *   accepting, ends watches, lets requests in flight finish and closes;
 * - /api, /apis and /version for authenticated clients (kubectl), and
 *   /watch, a stream with a line every second like a watch;
 * - Nodes: a kubelet registers its Node with PUT /api/v1/nodes/NAME, allowed
 *   only to system:node:NAME (NodeRestriction) or system:masters, kept in
 *   etcd under /registry/minions/ so that every apiserver lists every node;
 *   GET /api/v1/nodes[/NAME] for authenticated users, and
 *   /api/v1/nodes/NAME/proxy/PATH for system:masters, reaching the kubelet
 *   as the real apiserver does: at its InternalIP and kubelet port, with
 *   --kubelet-client-certificate, verifying the kubelet's serving
 *   certificate against --kubelet-certificate-authority;
 * - requests of authenticated users are appended to --audit-log-path.
 *
 * Every response carries `X-Kubeha-Standin: true`; /version says "standin".
 */
import { appendFileSync, mkdirSync } from "node:fs";
import type { ServerResponse } from "node:http";
import { createServer } from "node:https";
import type { Socket } from "node:net";
import { hostname } from "node:os";
import { dirname } from "node:path";
import type { TLSSocket } from "node:tls";
import { sleep } from "../core/wait.js";
import { EtcdClient, readEtcdTls } from "../etcd/client.js";
import { STANDIN_PROBE_KEY } from "../etcd/keyspace.js";
import { type CommandLine, parseDuration } from "./command-line.js";
import { NamedFiles } from "./files.js";
import { NodeRegistry, status, V1_RESOURCES } from "./nodes.js";

const READ_TIMEOUT_MS = 2000;
const READ_SHARED_MS = 100;
/** After the shutdown delay: how long requests in flight may finish. */
const DRAIN_MS = 2000;
const HEDGE_MS = 150;

/**
 * A linearizable read within 2 s through any etcd endpoint, hedged like a
 * real apiserver's balancing client: the first endpoint (this host's own
 * member) is asked at once, each next one HEDGE_MS later while none has
 * answered, so one dead or silent member does not make every apiserver
 * unready for longer than a load balancer's check timeout.
 */
/**
 * /readyz's etcd check, shared: the lab's load balancers ask every apiserver
 * five times a second from every host (35 checks a second here), so checks
 * that arrive while a read is in flight wait for it, and a read that began
 * less than READ_SHARED_MS ago answers for them, rather than each costing a
 * linearizable read. A load balancer sees etcd's loss at most that much later.
 */
function sharedEtcdRead(etcd: EtcdClient): () => Promise<boolean> {
  let last = { at: Number.NEGATIVE_INFINITY, ok: false };
  let inFlight: Promise<boolean> | undefined;
  return () => {
    if (performance.now() - last.at < READ_SHARED_MS) return Promise.resolve(last.ok);
    if (!inFlight) {
      const at = performance.now();
      inFlight = etcdRead(etcd).then((ok) => {
        last = { at, ok };
        inFlight = undefined;
        return ok;
      });
    }
    return inFlight;
  };
}

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

/** Paths anyone may read, as the real defaults (system:public-info-viewer) allow. */
const PUBLIC = /^\/(healthz|livez|readyz|version)(\/|$)/;

/** Starts the apiserver stand-in from its command line. */
export async function startApiserverStandin(cl: CommandLine): Promise<RunningStandin> {
  const flag = (name: string, fallback = "") => cl.flags.get(name) ?? fallback;
  const files = new NamedFiles(cl.component, cl.flags);
  const servers = flag("etcd-servers").split(",").filter(Boolean);
  if (servers.length === 0) throw new Error("--etcd-servers must be specified");
  const etcd = new EtcdClient(
    servers,
    readEtcdTls({
      caFile: flag("etcd-cafile"),
      certFile: flag("etcd-certfile"),
      keyFile: flag("etcd-keyfile"),
    }),
    READ_TIMEOUT_MS,
  );
  const shutdownDelayMs = parseDuration(flag("shutdown-delay-duration", "0s"));
  const auditLog = flag("audit-log-path");
  if (auditLog && auditLog !== "-") mkdirSync(dirname(auditLog), { recursive: true, mode: 0o700 });
  const sockets = new Set<Socket>();
  const watches = new Set<ServerResponse>();
  let inflight = 0;
  let shuttingDown = false;
  const [major, minor] = cl.version.replace(/^v/, "").split(".");
  const advertised = `${flag("advertise-address", flag("bind-address"))}:${flag("secure-port", "6443")}`;

  const ready = sharedEtcdRead(etcd);
  const nodes = new NodeRegistry(etcd, {
    cert: files.has("kubelet-client-certificate") ? files.pem("kubelet-client-certificate") : undefined,
    key: files.has("kubelet-client-key") ? files.pem("kubelet-client-key") : undefined,
    ca: files.has("kubelet-certificate-authority") ? files.pem("kubelet-certificate-authority") : undefined,
  });
  const server = createServer(
    {
      cert: files.pem("tls-cert-file"),
      key: files.pem("tls-private-key-file"),
      ...(files.has("client-ca-file") && { ca: files.pem("client-ca-file") }),
      requestCert: true,
      rejectUnauthorized: false,
    },
    async (req, res) => {
      inflight++;
      res.once("close", () => inflight--);
      res.setHeader("X-Kubeha-Standin", "true");
      const path = (req.url ?? "/").split("?")[0] ?? "/";
      const socket = req.socket as TLSSocket;
      const peer = socket.getPeerCertificate();
      const presented = peer && Object.keys(peer).length > 0;
      const json = (code: number, body: string) =>
        res.writeHead(code, { "content-type": "application/json" }).end(body);
      if (presented && !socket.authorized) return json(401, status(401, "Unauthorized", "Unauthorized"));
      const user = presented ? String(peer.subject.CN) : "system:anonymous";
      const groups = presented ? [peer.subject.O ?? []].flat().map(String) : ["system:unauthenticated"];
      if (!presented && !PUBLIC.test(path)) {
        return json(403, status(403, "Forbidden", `forbidden: User "${user}" cannot get path "${path}"`));
      }
      if (presented && auditLog && auditLog !== "-") {
        appendFileSync(
          auditLog,
          `${JSON.stringify({ kind: "Event", apiVersion: "audit.k8s.io/v1", level: "Metadata", stage: "ResponseComplete", requestURI: req.url, verb: req.method?.toLowerCase(), user: { username: user, groups }, stageTimestamp: new Date().toISOString(), annotations: { "kubeha.io/standin": "true" } })}\n`,
        );
      }
      if (path === "/livez" || path === "/healthz") return res.writeHead(200).end("ok");
      if (path === "/readyz") {
        if (shuttingDown) return res.writeHead(503).end("shutting down (kubeha apiserver stand-in)");
        const ok = await ready();
        return res.writeHead(ok ? 200 : 503).end(ok ? "ok" : "etcd read failed (kubeha apiserver stand-in)");
      }
      if (path === "/version") {
        return json(
          200,
          JSON.stringify({
            major,
            minor,
            gitVersion: `${cl.version}-kubeha-standin`,
            platform: `${process.platform}/${process.arch}`,
            standin: true,
          }),
        );
      }
      if (path === "/api") {
        return json(
          200,
          JSON.stringify({
            kind: "APIVersions",
            versions: ["v1"],
            serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: advertised }],
          }),
        );
      }
      if (path === "/api/v1") return json(200, JSON.stringify(V1_RESOURCES));
      const nodePath = /^\/api\/v1\/nodes(?:\/([a-z0-9.-]+)(?:\/(status|proxy)(\/.*)?)?)?$/.exec(path);
      if (nodePath) {
        const [, name, sub, rest = "/"] = nodePath;
        return nodes.handle(req, res, { user, groups, name, sub, rest });
      }
      if (path === "/apis")
        return json(200, JSON.stringify({ kind: "APIGroupList", apiVersion: "v1", groups: [] }));
      if (path === "/watch") {
        res.writeHead(200, { "content-type": "application/json" });
        const line = () =>
          res.write(
            `${JSON.stringify({ type: "BOOKMARK", host: hostname(), time: new Date().toISOString(), standin: true })}\n`,
          );
        line();
        const t = setInterval(line, 1000);
        watches.add(res);
        res.on("close", () => {
          clearInterval(t);
          watches.delete(res);
        });
        return;
      }
      return json(404, status(404, "NotFound", `the kubeha apiserver stand-in serves no ${path}`));
    },
  );
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  const port = Number(flag("secure-port", "6443"));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, flag("bind-address", "0.0.0.0"), () => resolve());
  });
  const addr = server.address();
  return {
    port: typeof addr === "object" && addr ? addr.port : port,
    shutdown: async () => {
      shuttingDown = true;
      await sleep(shutdownDelayMs);
      // then like the real one: no new connections, watches ended, requests in flight finish, the rest closed
      server.close();
      for (const w of watches) w.end();
      const until = Date.now() + DRAIN_MS;
      while (inflight > 0 && Date.now() < until) await sleep(20);
      for (const s of sockets) s.destroy();
      etcd.close();
    },
  };
}
