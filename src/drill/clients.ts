/**
 * The drill's clients: each runs from outside the failure domain while the
 * fault is on, records every request it makes with its start and end
 * (epoch ms, turned into ms from the fault by the report), and stops by
 * itself at its deadline or its request cap. They are what a user of the
 * cluster would be: a kubectl-like client through the API VIP with a new
 * connection per request and one with a reused connection, a long watch, a
 * pod's path through a worker's node-local proxy (a curl loop on the worker
 * over SSH), an etcd writer whose acknowledged keys are read back after the
 * heal, and HTTP clients of the ingress VIP.
 */
import { Agent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { connect } from "node:net";
import { shq } from "../core/shell.js";
import { sleep } from "../core/wait.js";
import { EtcdClient, EtcdError, type EtcdTls } from "../etcd/client.js";
import type { Transport } from "../transport/transport.js";
import type { Request } from "./history.js";

/** Wall-clock milliseconds with sub-millisecond resolution. */
export const epochMs = () => performance.timeOrigin + performance.now();

/** A request as recorded, in epoch ms. */
export type Recorded = Request;

/** A running client. */
export interface DrillClient {
  readonly name: string;
  readonly description: string;
  /** Ends the loop; resolves with every request it made. */
  stop(): Promise<Recorded[]>;
}

export interface Limits {
  /** The loop ends by itself after this long. */
  readonly maxMs: number;
  /** Pause between requests. */
  readonly intervalMs: number;
}

/** TLS material for HTTPS clients: the cluster CA and, for the API, the admin identity. */
export interface ClientTls {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
}

/** Runs `once` every `limits.intervalMs` until stopped or `limits.maxMs` passed, recording each request. */
function requestLoop(limits: Limits, once: () => Promise<Recorded>) {
  const history: Recorded[] = [];
  let stopped = false;
  const done = (async () => {
    const until = Date.now() + limits.maxMs;
    while (!stopped && Date.now() < until) {
      history.push(await once());
      await sleep(limits.intervalMs);
    }
  })();
  return {
    history,
    done,
    stop: async () => {
      stopped = true;
      await done;
      return history;
    },
  };
}

const short = (err: unknown) => {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? e.message?.slice(0, 60) ?? String(err);
};

/**
 * A loop of GETs: a new connection per request, or one kept-alive
 * connection reused (replaced when it breaks, as a client library does).
 */
export function httpLoop(opts: {
  name: string;
  description: string;
  url: string;
  reuse: boolean;
  tls?: ClientTls;
  timeoutMs: number;
  limits: Limits;
  /** Which HTTP codes count as success (default: 200). */
  ok?: (code: number) => boolean;
}): DrillClient {
  const https = opts.url.startsWith("https:");
  const agent = opts.reuse
    ? https
      ? new HttpsAgent({ keepAlive: true, maxSockets: 1, ...opts.tls })
      : new Agent({ keepAlive: true, maxSockets: 1 })
    : false;
  const ok = opts.ok ?? ((code: number) => code === 200);
  const once = () =>
    new Promise<Recorded>((resolve) => {
      const start = epochMs();
      const done = (outcome: Recorded["outcome"], error?: string) =>
        resolve({ start, end: epochMs(), outcome, ...(error && { error }) });
      const req = (https ? httpsRequest : httpRequest)(
        opts.url,
        { agent, timeout: opts.timeoutMs, ...(https && !opts.reuse && opts.tls) },
        (res) => {
          res.resume();
          res.on("end", () =>
            ok(res.statusCode ?? 0) ? done("ok") : done("failed", `HTTP ${res.statusCode}`),
          );
          res.on("error", (err) => done("failed", short(err)));
        },
      );
      req.once("timeout", () => req.destroy(Object.assign(new Error("timeout"), { code: "timeout" })));
      req.once("error", (err) => done("failed", short(err)));
      req.end();
    });
  const loop = requestLoop(opts.limits, once);
  return {
    name: opts.name,
    description: opts.description,
    stop: async () => {
      const history = await loop.stop();
      if (agent) agent.destroy();
      return history;
    },
  };
}

/**
 * A loop of TCP connects, each closed at once: whether anything answers on
 * the address at all (a VIP's holder), below any protocol. The benchmarks
 * measure keepalived's VIP and kubeha's alike with it.
 */
export function connectLoop(opts: {
  name: string;
  description: string;
  host: string;
  port: number;
  timeoutMs: number;
  limits: Limits;
}): DrillClient {
  const once = () =>
    new Promise<Recorded>((resolve) => {
      const start = epochMs();
      const s = connect({ host: opts.host, port: opts.port, timeout: opts.timeoutMs });
      const done = (error?: string) => {
        s.destroy();
        resolve({ start, end: epochMs(), outcome: error ? "failed" : "ok", ...(error && { error }) });
      };
      s.once("connect", () => done());
      s.once("error", (err) => done(short(err)));
      s.once("timeout", () => done("timeout"));
    });
  const loop = requestLoop(opts.limits, once);
  return { name: opts.name, description: opts.description, stop: loop.stop };
}

/**
 * A long watch: each connection attempt is a request (ok once the stream's
 * headers arrive); a stream that ends, breaks, or (when the server sends a
 * heartbeat, as the stand-in's watch does every second) goes quiet for
 * `stallMs` is a failed request (from the break, or from the last data for a
 * stall), and the watch reconnects at once.
 */
export function watchLoop(opts: {
  name: string;
  description: string;
  url: string;
  tls: ClientTls;
  heartbeat: boolean;
  stallMs: number;
  limits: Limits;
}): DrillClient {
  const history: Recorded[] = [];
  let stopped = false;
  let current: { destroy(): void } | undefined;
  const once = () =>
    new Promise<void>((resolve) => {
      const start = epochMs();
      let connected = false;
      let settled = false;
      let quiet: NodeJS.Timeout | undefined;
      let lastData = start;
      const end = (error: string) => {
        if (settled) return;
        settled = true;
        clearTimeout(quiet);
        // a stalled watch was dead since its last data, not since the stall was noticed
        const from = !connected ? start : error === "stalled" ? lastData : epochMs();
        if (!stopped) history.push({ start: from, end: epochMs(), outcome: "failed", error });
        resolve();
      };
      const req = httpsRequest(opts.url, { agent: false, timeout: opts.stallMs, ...opts.tls }, (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return end(`HTTP ${res.statusCode}`);
        }
        connected = true;
        history.push({ start, end: epochMs(), outcome: "ok" });
        const arm = () => {
          lastData = epochMs();
          clearTimeout(quiet);
          if (opts.heartbeat) quiet = setTimeout(() => req.destroy(new Error("stalled")), opts.stallMs);
        };
        arm();
        res.on("data", arm);
        res.on("end", () => end("watch ended"));
        res.on("error", (err) => end(short(err)));
      });
      req.once("timeout", () => {
        if (!connected) req.destroy(Object.assign(new Error("timeout"), { code: "timeout" }));
      });
      req.once("error", (err) => end(err.message === "stalled" ? "stalled" : short(err)));
      req.end();
      current = req;
    });
  const loop = (async () => {
    const until = Date.now() + opts.limits.maxMs;
    const deadline = setTimeout(() => {
      stopped = true;
      current?.destroy();
    }, opts.limits.maxMs);
    while (!stopped && Date.now() < until) {
      await once();
      if (!stopped) await sleep(opts.limits.intervalMs);
    }
    clearTimeout(deadline);
  })();
  return {
    name: opts.name,
    description: opts.description,
    stop: async () => {
      stopped = true;
      current?.destroy();
      await loop;
      return history;
    },
  };
}

/** What the etcd writer learnt: acknowledged keys found again after the heal, and those lost. */
export interface WriteCheck {
  readonly acknowledged: number;
  readonly indeterminate: number;
  readonly lost: readonly string[];
  /** Why the read-back failed, when it did. */
  readonly error?: string;
}

/**
 * Sequential puts of /kubeha/drill/RUN/SEQ through every member's endpoint
 * (the client moves on when one stops answering). An acknowledged put must
 * be there after the heal; a put that timed out is indeterminate.
 */
export function etcdWriter(opts: {
  name: string;
  description: string;
  endpoints: readonly string[];
  tls: EtcdTls;
  prefix: string;
  limits: Limits;
}): DrillClient & { check(): Promise<WriteCheck> } {
  const client = new EtcdClient(opts.endpoints, opts.tls, 1000);
  const acked: string[] = [];
  let seq = 0;
  const loop = requestLoop(opts.limits, async () => {
    const key = `${opts.prefix}${String(seq++).padStart(6, "0")}`;
    const start = epochMs();
    try {
      await client.put(key, String(start));
      acked.push(key);
      return { start, end: epochMs(), outcome: "ok" };
    } catch (err) {
      const timedOut = err instanceof EtcdError && err.code === 4; // DEADLINE_EXCEEDED
      return {
        start,
        end: epochMs(),
        outcome: timedOut ? "indeterminate" : "failed",
        error: err instanceof EtcdError ? err.message.slice(0, 60) : short(err),
      };
    }
  });
  const history = loop.history;
  return {
    name: opts.name,
    description: opts.description,
    stop: loop.stop,
    /** Reads the keys back (linearizable), then deletes them. */
    async check() {
      await loop.done;
      const indeterminate = history.filter((r) => r.outcome === "indeterminate").length;
      try {
        let present: Set<string> | undefined;
        for (let attempt = 0; attempt < 20 && !present; attempt++) {
          present = await client.list(opts.prefix).then(
            (kvs) => new Set(kvs.map((kv) => kv.key)),
            () => undefined,
          );
          if (!present) await sleep(500);
        }
        if (!present)
          return {
            acknowledged: acked.length,
            indeterminate,
            lost: [],
            error: "etcd did not answer the read-back",
          };
        await client.txn([], [{ deletePrefix: opts.prefix }]).catch(() => {});
        return { acknowledged: acked.length, indeterminate, lost: acked.filter((k) => !present.has(k)) };
      } finally {
        client.close();
      }
    },
  };
}

/**
 * A curl loop on a host, over SSH, against `url` (the node-local proxy):
 * what a pod on that worker sees. It stops when the stop file appears, after
 * `maxMs`, or after its request cap; times are the host's clock, corrected
 * by `offsetMs` (host minus this machine).
 */
export function remoteCurlLoop(opts: {
  name: string;
  description: string;
  transport: Transport;
  url: string;
  caFile: string;
  run: string;
  offsetMs: number;
  limits: Limits;
}): DrillClient {
  const stopFile = `/run/kubeha-drill-${opts.run}.stop`;
  const cap = Math.ceil(opts.limits.maxMs / Math.max(10, opts.limits.intervalMs));
  const seconds = Math.ceil(opts.limits.maxMs / 1000);
  const pause = (opts.limits.intervalMs / 1000).toFixed(3);
  const script = `rm -f ${stopFile}; i=0; while [ $i -lt ${cap} ] && [ ! -e ${stopFile} ]; do s=$(date +%s%N); c=$(curl -s -o /dev/null -m 1 -w '%{http_code}' --cacert ${shq(opts.caFile)} ${shq(opts.url)}); r=$?; e=$(date +%s%N); echo "$s $e $c $r"; i=$((i+1)); sleep ${pause}; done; rm -f ${stopFile}`;
  const running = opts.transport.exec(`timeout ${seconds + 5} sh -c ${shq(script)}`, {
    timeoutMs: opts.limits.maxMs + 10_000,
  });
  return {
    name: opts.name,
    description: opts.description,
    stop: async () => {
      await opts.transport.exec(`touch ${stopFile}`, { timeoutMs: 5000 }).catch(() => {});
      const r = await running.catch(() => ({ stdout: "" }));
      return r.stdout
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((line): Recorded => {
          const [s = "0", e = "0", code = "000", rc = "0"] = line.split(" ");
          const start = Number(s) / 1e6 - opts.offsetMs;
          const end = Number(e) / 1e6 - opts.offsetMs;
          if (code === "200") return { start, end, outcome: "ok" };
          const error =
            rc === "28"
              ? "timeout"
              : rc === "7"
                ? "ECONNREFUSED"
                : code === "000"
                  ? `curl exit ${rc}`
                  : `HTTP ${code}`;
          return { start, end, outcome: "failed", error };
        });
    },
  };
}

/** A host's clock against this machine's: `offsetMs` host minus here, true within ± `errorMs`. */
export interface Clock {
  readonly offsetMs: number;
  readonly errorMs: number;
}

/** The clock of a host that runs on this machine's kernel (a lab host): the same clock. */
export const SAME_CLOCK: Clock = { offsetMs: 0, errorMs: 0 };

/**
 * A host's clock from `samples` round trips, NTP's way: the midpoint of the
 * shortest one, true within half of it. One sample on a busy host can be off
 * by hundreds of ms, enough to invent two VIP holders from a clean hand-over.
 */
export async function measureClock(t: Transport, samples = 5): Promise<Clock> {
  let best: Clock | undefined;
  for (let i = 0; i < samples; i++) {
    const before = epochMs();
    const r = await t.exec("date +%s%N", { timeoutMs: 5000 });
    const after = epochMs();
    const remote = Number(r.stdout.trim()) / 1e6;
    if (r.code !== 0 || !Number.isFinite(remote)) continue;
    const clock = { offsetMs: remote - (before + after) / 2, errorMs: (after - before) / 2 };
    if (!best || clock.errorMs < best.errorMs) best = clock;
  }
  if (!best) throw new Error(`${t.host}: \`date +%s%N\` gave no time`);
  return best;
}
