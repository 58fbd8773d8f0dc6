/**
 * What the drill learns from the hosts themselves. While the fault is on,
 * every VIP candidate runs `ip -ts monitor address` (at top priority, so the
 * stamps are close to the kernel's events) for a bounded time: from the
 * address events and the addresses at the start, each host's holding of
 * each VIP becomes intervals, and two holders at once is an overlap of
 * intervals, not a guess between samples. Afterwards the journals of the
 * agents and etcd since the fault give the timeline: VIPs taken and let go,
 * backends taken out of rotation, etcd leaders elected.
 */
import { shq } from "../core/shell.js";
import type { Transport } from "../transport/transport.js";
import type { Clock } from "./clients.js";

/** A host holding a VIP from `start` to `end` (epoch ms; `end` undefined: still holding). */
export interface Holding {
  readonly host: string;
  readonly vip: string;
  readonly start: number;
  readonly end?: number;
  /** How far the host's clock may be off this machine's after correction, ms. */
  readonly errorMs: number;
}

/** A running address watch on one host. */
export interface AddressWatch {
  readonly host: string;
  /** Ends the watch; resolves with the host's holdings of `vips` (host clock corrected by its offset). */
  stop(): Promise<Holding[]>;
}

/** `[2026-12-02T02:40:01.123456] ...` as epoch ms. */
function stamp(line: string): number | undefined {
  const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d+)\]/.exec(line);
  if (!m) return undefined;
  return Date.parse(`${m[1]}Z`) + Number(`0.${m[2]}`) * 1000;
}

/** Holdings from what the watch printed: the addresses held at `startedAt`, then timestamped events. */
export function holdingsFrom(
  host: string,
  vips: readonly string[],
  initial: string,
  events: string,
  startedAt: number,
  clock: Clock,
): Holding[] {
  const errorMs = clock.errorMs;
  const open = new Map<string, number>();
  const out: Holding[] = [];
  for (const vip of vips) if (initial.includes(` ${vip}/`)) open.set(vip, startedAt);
  for (const line of events.split("\n")) {
    const at = stamp(line);
    if (at === undefined) continue;
    const t = at - clock.offsetMs;
    const deleted = line
      .slice(line.indexOf("]") + 1)
      .trimStart()
      .startsWith("Deleted");
    for (const vip of vips) {
      if (!line.includes(` ${vip}/`)) continue;
      const since = open.get(vip);
      if (deleted && since !== undefined) {
        out.push({ host, vip, start: since, end: t, errorMs });
        open.delete(vip);
      } else if (!deleted && since === undefined) open.set(vip, t);
    }
  }
  for (const [vip, since] of open) out.push({ host, vip, start: since, errorMs });
  return out;
}

/**
 * Starts `ip -ts -o monitor address` on a host for at most `maxMs`; `clock`
 * is the host's against this machine's. `ip` stamps times in the host's
 * local time zone, so the watch runs with TZ=UTC.
 */
export async function watchAddresses(
  t: Transport,
  vips: readonly string[],
  run: string,
  maxMs: number,
  clock: Clock,
): Promise<AddressWatch> {
  const pidFile = `/run/kubeha-drill-${run}.watch`;
  const startedAt = performance.timeOrigin + performance.now();
  const initial = (await t.exec("ip -o addr show", { timeoutMs: 5000 })).stdout;
  const seconds = Math.ceil(maxMs / 1000);
  const running = t.exec(
    `echo $$ >${pidFile}; exec env TZ=UTC nice -n -20 timeout ${seconds} ip -ts -o monitor address`,
    { timeoutMs: maxMs + 10_000 },
  );
  return {
    host: t.host,
    async stop() {
      await t
        .exec(`kill $(cat ${pidFile}) 2>/dev/null; rm -f ${pidFile}`, { timeoutMs: 5000 })
        .catch(() => {});
      const r = await running.catch(() => ({ stdout: "" }));
      return holdingsFrom(t.host, vips, initial, r.stdout, startedAt, clock);
    },
  };
}

/**
 * How long two hosts held `vip` at once, and who, from every host's
 * holdings: only what no error of the two hosts' clocks can explain counts.
 */
export function overlaps(
  holdings: readonly Holding[],
  vip: string,
  until: number,
): { ms: number; hosts: string[] } {
  const list = holdings.filter((h) => h.vip === vip);
  let ms = 0;
  const hosts = new Set<string>();
  for (let i = 0; i < list.length; i++) {
    for (let j = i + 1; j < list.length; j++) {
      const a = list[i] as Holding;
      const b = list[j] as Holding;
      if (a.host === b.host) continue;
      const from = Math.max(a.start, b.start);
      const to = Math.min(a.end ?? until, b.end ?? until);
      const certain = to - from - a.errorMs - b.errorMs;
      if (certain > 0) {
        ms += certain;
        hosts.add(a.host).add(b.host);
      }
    }
  }
  return { ms: Math.round(ms), hosts: [...hosts] };
}

/** One journal line of interest, epoch ms. */
export interface JournalEvent {
  readonly at: number;
  readonly host: string;
  readonly unit: string;
  /** The agent's JSON event, or etcd's message. */
  readonly event: Record<string, unknown>;
}

/** The journal of kubeha's agent and etcd on a host since `sinceMs` (epoch), as events. */
export async function journalSince(t: Transport, sinceMs: number, offsetMs: number): Promise<JournalEvent[]> {
  const since = Math.floor((sinceMs + offsetMs) / 1000) - 1;
  const r = await t.exec(
    `journalctl -u kubeha-agent -u etcd --since ${shq(`@${since}`)} -o json --output-fields=MESSAGE,_SYSTEMD_UNIT --no-pager`,
    { timeoutMs: 15_000 },
  );
  const out: JournalEvent[] = [];
  for (const line of r.stdout.split("\n")) {
    if (!line.startsWith("{")) continue;
    let entry: { MESSAGE?: unknown; _SYSTEMD_UNIT?: string; __REALTIME_TIMESTAMP?: string };
    try {
      entry = JSON.parse(line);
    } catch {
      continue;
    }
    const message = Array.isArray(entry.MESSAGE)
      ? Buffer.from(entry.MESSAGE as number[]).toString()
      : String(entry.MESSAGE ?? "");
    const unit = (entry._SYSTEMD_UNIT ?? "").replace(/\.service$/, "");
    let at = Number(entry.__REALTIME_TIMESTAMP ?? 0) / 1000 - offsetMs;
    let event: Record<string, unknown> = { message };
    if (unit === "kubeha-agent" && message.startsWith("{")) {
      try {
        event = JSON.parse(message);
        // the agent's own stamp is when it acted; journald's is when the line arrived
        if (typeof event.time === "string") at = Date.parse(event.time) - offsetMs;
      } catch {
        // not one of its JSON events
      }
    }
    out.push({ at, host: t.host, unit, event });
  }
  return out;
}
