/**
 * A backend of a frontend and the choice among backends: least active
 * connections among the healthy ones, ties broken at random so that many
 * agents starting together do not all pick the same apiserver.
 */
import type { Socket } from "node:net";
import { splitHostPort } from "../../core/ip.js";

/** One backend with its health and counters. */
export class Backend {
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  private current: "up" | "down" = "up";
  /** When `state` last changed (ms since the epoch): the agent's state JSON says "down since". */
  since = Date.now();
  /** Whether an active check has run yet (the VIP manager waits for one). */
  checked = false;
  /** Consecutive check results, for fall and rise. */
  successes = 0;
  failures = 0;
  /** Set when a reload dropped it: no new sessions, established ones run on. */
  removed = false;
  active = 0;
  connects = 0;
  connectFailures = 0;
  retries = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Client sockets of the sessions through this backend, to close them when it goes down. */
  readonly sessions = new Set<Socket>();

  /** In rotation or not; changed by health checks (fall/rise) and at once by a failed connect. */
  get state(): "up" | "down" {
    return this.current;
  }

  set state(next: "up" | "down") {
    if (next !== this.current) this.since = Date.now();
    this.current = next;
  }

  constructor(endpoint: string) {
    this.endpoint = endpoint;
    const { host, port } = splitHostPort(endpoint);
    this.host = host;
    this.port = port;
  }
}

/**
 * The backend for a new session: healthy ones first, fewest active sessions,
 * random among equals; `tried` are skipped. When none is healthy, any backend
 * not yet tried is better than refusing the client outright.
 */
export function pickBackend(backends: readonly Backend[], tried: ReadonlySet<Backend>): Backend | undefined {
  const open = backends.filter((b) => !b.removed && !tried.has(b));
  const healthy = open.filter((b) => b.state === "up");
  const pool = healthy.length > 0 ? healthy : open;
  if (pool.length === 0) return undefined;
  const least = Math.min(...pool.map((b) => b.active));
  const best = pool.filter((b) => b.active === least);
  return best[Math.floor(Math.random() * best.length)];
}
