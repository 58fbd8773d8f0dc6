/** The agent's Prometheus metrics, in the text exposition format, and its state as JSON, on 127.0.0.1 only. */
import { createServer, type Server } from "node:http";
import type { Frontend } from "./lb/frontend.js";
import type { VipManager } from "./vip/manager.js";

/** Extra metric lines other parts of the agent contribute (the VIP manager). */
export type MetricSource = () => string[];

const esc = (s: string) => s.replace(/\\/g, "\\\\").replace(/"/g, '\\"');

/** Renders every frontend's backend metrics. */
export function renderMetrics(frontends: readonly Frontend[], extra: readonly MetricSource[] = []): string {
  const families: [string, string, string, (b: Frontend["backends"][number]) => number][] = [
    ["kubeha_lb_backend_up", "gauge", "1 when the backend is in rotation", (b) => (b.state === "up" ? 1 : 0)],
    ["kubeha_lb_backend_active_connections", "gauge", "sessions open through the backend", (b) => b.active],
    ["kubeha_lb_backend_connects_total", "counter", "sessions established", (b) => b.connects],
    [
      "kubeha_lb_backend_connect_failures_total",
      "counter",
      "failed or timed-out connects",
      (b) => b.connectFailures,
    ],
    [
      "kubeha_lb_backend_retries_total",
      "counter",
      "sessions that reached it after another backend failed",
      (b) => b.retries,
    ],
    ["kubeha_lb_backend_bytes_in_total", "counter", "bytes from clients (closed sessions)", (b) => b.bytesIn],
    ["kubeha_lb_backend_bytes_out_total", "counter", "bytes to clients (closed sessions)", (b) => b.bytesOut],
  ];
  const lines: string[] = [];
  for (const [name, type, help, value] of families) {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const f of frontends) {
      for (const b of f.backends)
        lines.push(`${name}{frontend="${esc(f.config.name)}",backend="${esc(b.endpoint)}"} ${value(b)}`);
    }
  }
  lines.push(
    "# HELP kubeha_lb_refused_total clients closed because no backend could be reached",
    "# TYPE kubeha_lb_refused_total counter",
  );
  for (const f of frontends)
    lines.push(`kubeha_lb_refused_total{frontend="${esc(f.config.name)}"} ${f.refused}`);
  for (const source of extra) lines.push(...source());
  return `${lines.join("\n")}\n`;
}

/** The VIP managers' metrics. */
export function vipMetrics(vips: readonly VipManager[]): string[] {
  if (vips.length === 0) return [];
  const families: [string, string, string, (m: VipManager) => number][] = [
    ["kubeha_vip_holder", "gauge", "1 while this host holds the VIP", (m) => (m.isHolder ? 1 : 0)],
    [
      "kubeha_vip_transitions_total",
      "counter",
      "times this host took or let go of the VIP",
      (m) => m.transitions,
    ],
    [
      "kubeha_vip_last_transition_timestamp_seconds",
      "gauge",
      "when this host last took or let go of the VIP",
      (m) => m.lastTransition,
    ],
  ];
  return families.flatMap(([name, type, help, value]) => [
    `# HELP ${name} ${help}`,
    `# TYPE ${name} ${type}`,
    ...vips.map((m) => `${name}{vip="${esc(m.settings.name)}",address="${m.settings.address}"} ${value(m)}`),
  ]);
}

/** Serves /metrics and the state JSON (/state, state.ts) on 127.0.0.1:port. */
export async function serveMetrics(
  port: number,
  render: () => string,
  state: () => unknown,
): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.url === "/state")
      return res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(state()));
    if (req.url !== "/metrics") return res.writeHead(404).end();
    res.writeHead(200, { "content-type": "text/plain; version=0.0.4" }).end(render());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => resolve());
  });
  return server;
}
