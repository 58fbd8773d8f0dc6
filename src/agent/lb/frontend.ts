/**
 * One L4 frontend: a listener, its backends, their health checks.
 *
 * No client sees a failed connect while a healthy backend exists: a
 * backend's TCP handshake gets `connectTimeoutMs`, and when it fails or times
 * out the backend is taken out at once (passive check) and the next one is
 * tried, with the client's bytes still held back. When a backend stops
 * answering, its established sessions are closed so long watches reconnect
 * elsewhere at once instead of hanging on a dead peer; when it answers "not
 * ready" (an apiserver in its shutdown delay) it gets no new sessions and
 * the ones it has may finish there for `drainMs` (the apiserver closes them
 * itself when its delay ends), so no request in flight is cut.
 */
import { Agent } from "node:https";
import { connect, createServer, type Server, type Socket } from "node:net";
import { splitHostPort } from "../../core/ip.js";
import type { FrontendConfig } from "../config.js";
import { Backend, pickBackend } from "./backend.js";
import { checkOnce, checkTls, record } from "./health.js";

/** Something worth a log line. */
export type FrontendEvent =
  | { kind: "backend-down" | "backend-up"; backend: string; reason: string; closed?: number }
  | { kind: "reload"; backends: string[] }
  | { kind: "reload-refused"; reason: string };

/** The most client bytes held back for a replay before the first backend byte. */
const REPLAY_LIMIT = 64 * 1024;

export class Frontend {
  readonly config: FrontendConfig;
  backends: Backend[];
  private server: Server | undefined;
  private readonly timers = new Map<Backend, NodeJS.Timeout>();
  private readonly drains = new Set<NodeJS.Timeout>();
  private readonly checkAgents = new Map<Backend, Agent>();
  private readonly tls: ReturnType<typeof checkTls>;
  private readonly onEvent: (e: FrontendEvent) => void;
  /** Clients refused because every backend failed. */
  refused = 0;

  constructor(config: FrontendConfig, onEvent: (e: FrontendEvent) => void = () => {}) {
    this.config = config;
    this.onEvent = onEvent;
    this.tls = checkTls(config.check);
    this.backends = config.backends.map((e) => new Backend(e));
  }

  /** Starts listening and checking. */
  async start(): Promise<void> {
    for (const b of this.backends) this.watch(b);
    const { host, port } = splitHostPort(this.config.listen);
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (client) => this.handle(client));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host, port, backlog: 4096 }, () => resolve());
    });
  }

  /** Whether a checked backend is in rotation: the VIP manager campaigns only then. */
  get healthy(): boolean {
    return this.backends.some((b) => !b.removed && b.checked && b.state === "up");
  }

  /** The port actually bound (for listen ports of 0 in tests). */
  get port(): number {
    const addr = this.server?.address();
    return typeof addr === "object" && addr ? addr.port : 0;
  }

  /** Stops listening and checking; established sessions are closed. */
  async stop(): Promise<void> {
    for (const t of [...this.timers.values(), ...this.drains]) clearTimeout(t);
    this.timers.clear();
    this.drains.clear();
    for (const a of this.checkAgents.values()) a.destroy();
    this.checkAgents.clear();
    for (const b of this.backends) for (const s of b.sessions) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** Replaces the backend list; established sessions are kept. An empty list is refused. */
  setBackends(endpoints: readonly string[]): void {
    if (endpoints.length === 0) {
      this.onEvent({
        kind: "reload-refused",
        reason: `frontend ${this.config.name}: an empty backend list is refused; keeping ${this.backends.map((b) => b.endpoint).join(", ")}`,
      });
      throw new Error("empty backend list");
    }
    const keep = new Map(this.backends.map((b) => [b.endpoint, b]));
    const next = endpoints.map((e) => keep.get(e) ?? new Backend(e));
    for (const b of this.backends) {
      if (next.includes(b)) continue;
      b.removed = true;
      clearTimeout(this.timers.get(b));
      this.timers.delete(b);
    }
    for (const b of next) if (!this.timers.has(b)) this.watch(b);
    this.backends = next;
    this.onEvent({ kind: "reload", backends: [...endpoints] });
  }

  private watch(b: Backend): void {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    this.checkAgents.set(b, agent);
    const tick = async () => {
      const result = await checkOnce(b, this.config.check, this.tls, agent);
      if (b.removed || !this.timers.has(b)) {
        agent.destroy();
        this.checkAgents.delete(b);
        return;
      }
      const changed = record(b, result === "ok", this.config.check);
      // a backend that answers "not ready" is draining: its sessions may finish there; a silent one's are cut
      if (changed === "down" && result === "unready") this.drain(b);
      else if (changed === "down") this.takeOut(b, `${this.config.check.fall} failed checks`);
      if (changed === "up")
        this.onEvent({
          kind: "backend-up",
          backend: b.endpoint,
          reason: `${this.config.check.rise} passed checks`,
        });
      this.timers.set(b, setTimeout(tick, this.config.check.intervalMs));
    };
    this.timers.set(b, setTimeout(tick, 0));
  }

  /** No new sessions for `b`; the ones it has are closed after drainMs unless it is back up by then. */
  private drain(b: Backend): void {
    this.takeOut(b, `${this.config.check.fall} checks answered not ready: draining`, false);
    const t = setTimeout(() => {
      this.drains.delete(t);
      if (b.state !== "down" || b.sessions.size === 0) return;
      this.onEvent({
        kind: "backend-down",
        backend: b.endpoint,
        reason: "drain time over",
        closed: b.sessions.size,
      });
      for (const s of b.sessions) s.destroy();
    }, this.config.drainMs);
    this.drains.add(t);
  }

  private takeOut(b: Backend, reason: string, closeSessions = true): void {
    b.state = "down";
    b.successes = 0;
    const closed = closeSessions ? b.sessions.size : 0;
    if (closeSessions) for (const s of b.sessions) s.destroy();
    this.onEvent({ kind: "backend-down", backend: b.endpoint, reason, closed });
  }

  private handle(client: Socket): void {
    const tried = new Set<Backend>();
    let upstream: Socket | undefined;
    // the client's bytes until a backend answers, so a backend that dies before sending a single byte
    // (for TLS: before its handshake reply, so nothing was processed) can be replaced transparently
    const early = { chunks: [] as Buffer[], bytes: 0, answered: false };
    const keep = (d: Buffer) => {
      if (early.answered) return;
      early.chunks.push(d);
      early.bytes += d.length;
      if (early.bytes > REPLAY_LIMIT) early.answered = true; // too much to hold: no replay
    };
    client.on("data", keep);
    client.once("error", () => upstream?.destroy());
    const attempt = () => {
      if (client.destroyed) return;
      const b = pickBackend(this.backends, tried);
      if (!b) {
        this.refused++;
        client.destroy();
        return;
      }
      if (tried.size > 0) b.retries++;
      tried.add(b);
      const up = connect({ host: b.host, port: b.port, noDelay: true });
      const timer = setTimeout(
        () => up.destroy(new Error("connect timed out")),
        this.config.connectTimeoutMs,
      );
      up.once("error", (err) => {
        clearTimeout(timer);
        if (upstream === up) return;
        b.connectFailures++;
        if (b.state === "up") this.takeOut(b, `connect failed: ${err.message}`);
        attempt();
      });
      up.once("connect", () => {
        clearTimeout(timer);
        if (client.destroyed) return up.destroy();
        upstream = up;
        if (early.chunks.length > 0) up.write(Buffer.concat(early.chunks));
        up.once("data", () => {
          early.answered = true;
          early.chunks = [];
          client.off("data", keep);
        });
        this.session(b, client, up, () => {
          if (early.answered || client.destroyed) return false;
          if (b.state === "up") this.takeOut(b, "closed a session before answering", false);
          attempt();
          return true;
        });
      });
    };
    attempt();
  }

  /**
   * Pipes client and backend until either closes. When the backend closes
   * first, `replay` may hand the client to another backend (it returns true
   * when it did: the backend had not answered yet).
   */
  private session(b: Backend, client: Socket, up: Socket, replay: () => boolean): void {
    b.connects++;
    b.active++;
    b.sessions.add(client);
    let open = true;
    const close = () => {
      if (!open) return false;
      open = false;
      b.active--;
      b.sessions.delete(client);
      client.off("close", end);
      client.off("error", end);
      client.unpipe(up);
      up.destroy();
      return true;
    };
    const end = () => {
      if (!close()) return;
      b.bytesIn += client.bytesRead;
      b.bytesOut += client.bytesWritten;
      client.destroy();
    };
    const upEnded = () => {
      if (!open) return;
      if (close() && replay()) return;
      b.bytesIn += client.bytesRead;
      b.bytesOut += client.bytesWritten;
      client.end(() => client.destroy()); // what the backend sent reaches the client first
    };
    client.on("close", end);
    client.on("error", end);
    up.on("close", upEnded);
    up.on("error", upEnded);
    client.pipe(up);
    up.pipe(client, { end: false });
    client.resume();
  }
}
