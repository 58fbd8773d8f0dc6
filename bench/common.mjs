// What the benchmarks share: the CLI, a sleep, the statistics they print, and
// the drill's clients and its reading of what they saw, so that a benchmark's
// figure is measured as `kubeha drill` measures it.
import { spawn, spawnSync } from "node:child_process";
import { summarize } from "../dist/drill/history.js";

export { connectLoop, httpLoop, remoteCurlLoop } from "../dist/drill/clients.js";
export { HoldWatch } from "../dist/drill/hold-watch-fixtures.js";

export const bin = new URL("../bin/kubeha.js", import.meta.url).pathname;
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** The middle value (the upper of the two for an even count). */
export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
export const p95 = (xs) =>
  [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.95) - 1)];

/**
 * What a drill client's `history` says from a fault at `at` (epoch ms) on, read
 * as the drill reads it (outage windows: from the first failed request to the
 * start of the next one that succeeded): requests failed in the windows that
 * end after the fault, and ms from the fault until requests succeeded again
 * (0: none failed; NaN: none succeeded after).
 */
export function afterFault(history, at) {
  const { windows } = summarize(
    "",
    "",
    history.map((r) => ({ ...r, start: r.start - at, end: r.end - at })),
  );
  const after = windows.filter((w) => w.open || w.end >= 0);
  const first = after[0];
  return {
    failed: after.reduce((n, w) => n + w.requests, 0),
    ms: !first ? 0 : first.open ? Number.NaN : Math.round(first.end),
  };
}

/** A lab host as the drill's transport (over `kubeha lab ssh`), for the drill's clients that run on a host. */
export function labTransport(dir, host) {
  const exec = (command) =>
    new Promise((resolve) => {
      const p = spawn(process.execPath, [bin, "lab", "ssh", host, "--dir", dir, "--", command], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      p.stdout.on("data", (d) => (stdout += d));
      p.stderr.on("data", (d) => (stderr += d));
      p.once("exit", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    });
  return {
    host,
    exec,
    execBytes: async (command) => {
      const r = await exec(command);
      return { ...r, stdout: Buffer.from(r.stdout) };
    },
    close: async () => {},
  };
}

/** Failed (or indeterminate) requests of a drill client's history. */
export const failedIn = (history) => history.filter((r) => r.outcome !== "ok").length;

/** Runs the kubeha CLI and returns its output; throws with the output when it fails. */
export function kubeha(...args) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kubeha ${args.join(" ")} failed:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** The peers' local API proxies on a worker, in front of `apiservers` (ADDRESS:PORT): HAProxy as in kubeadm's HA sample on 127.0.0.1:7443, nginx stream as RKE's nginx-proxy on 127.0.0.1:8443. */
export function peerProxyConfigs(apiservers) {
  const haproxy = `global
  maxconn 4000
defaults
  mode tcp
  log global
  option tcplog
  retries 1
  timeout connect 10s
  timeout client 20s
  timeout server 20s
frontend apiserver
  bind 127.0.0.1:7443
  default_backend apiserverbackend
backend apiserverbackend
  option httpchk GET /healthz
  http-check expect status 200
  balance roundrobin
${apiservers.map((a, i) => `  server cp${i + 1} ${a} check check-ssl verify none`).join("\n")}
`;
  const nginx = `load_module /usr/lib/nginx/modules/ngx_stream_module.so;
worker_processes auto; pid /run/nginx-proxy.pid;
events { worker_connections 1024; }
stream {
  upstream kube_apiserver { ${apiservers.map((a) => `server ${a};`).join(" ")} }
  server { listen 127.0.0.1:8443; proxy_pass kube_apiserver; proxy_timeout 30; proxy_connect_timeout 2s; }
}
`;
  return { haproxy, nginx };
}

/** Installs and starts the peers' proxies on lab host `host` with `ssh(host, command)`. */
export function startPeerProxies(ssh, host, apiservers) {
  const { haproxy, nginx } = peerProxyConfigs(apiservers);
  ssh(
    host,
    `cat > /etc/haproxy/haproxy.cfg <<'EOF2'\n${haproxy}EOF2\nsystemctl restart haproxy </dev/null >/dev/null 2>&1`,
  );
  ssh(
    host,
    `cat > /etc/nginx/nginx-proxy.conf <<'EOF2'\n${nginx}EOF2\nnginx -c /etc/nginx/nginx-proxy.conf </dev/null >/dev/null 2>&1`,
  );
}

/** A lab's `ssh` (output, throws on failure) and `sshAsync` (resolves with the output) for `kubeha lab ssh`. */
export function labShell(dir) {
  return {
    ssh: (host, cmd) => kubeha("lab", "ssh", host, "--dir", dir, "--", cmd),
    sshAsync: async (host, cmd) => {
      const r = await labTransport(dir, host).exec(cmd);
      process.stderr.write(r.stderr);
      return r.stdout;
    },
  };
}

/** The one host of `hosts` in `lab` that holds `address`, once exactly one does; throws after `ms`. */
export async function singleHolder(lab, hosts, address, ms = 30_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const hs = hosts.filter((h) =>
      lab.ssh(h, `ip -o addr show to ${address}/32`).stdout.includes(`${address}/32`),
    );
    if (hs.length === 1) return hs[0];
    await sleep(200);
  }
  throw new Error(`no single holder of ${address}`);
}
