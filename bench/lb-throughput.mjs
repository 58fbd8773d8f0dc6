#!/usr/bin/env node
// L4 proxy throughput and latency on loopback: the kubeha agent (the same
// self-contained executable the hosts run), HAProxy 2.6 (mode tcp, leastconn)
// and nginx 1.22 (stream, least_conn), each in front of the same three nginx
// HTTP backends, driven by wrk with keep-alive and with a new connection per
// request. Rounds alternate the proxies; medians and ratios are printed.
// Run: npm run build && node bench/lb-throughput.mjs [rounds] [seconds]
// Needs wrk, haproxy, nginx and libnginx-mod-stream (Debian packages).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { median, sleep } from "./common.mjs";

const rounds = Number(process.argv[2] ?? 3);
const seconds = Number(process.argv[3] ?? 5);
const dir = mkdtempSync(join(tmpdir(), "kubeha-bench-lb-"));
const agentBin = new URL("../dist/kubeha-node", import.meta.url).pathname;
const BACKENDS = [18081, 18082, 18083];
const FRONT = 18443;
const children = [];

function start(cmd, args) {
  const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  p.stderr.on("data", (d) => process.stderr.write(`${cmd}: ${d}`));
  children.push(p);
  return p;
}
async function stop(p) {
  if (p.exitCode !== null) return;
  const gone = new Promise((r) => p.once("exit", r));
  p.kill("SIGTERM");
  await Promise.race([gone, sleep(3000).then(() => p.kill("SIGKILL"))]);
}
async function waitPort(port) {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise((r) => {
      const s = connect(port, "127.0.0.1", () => {
        s.destroy();
        r(true);
      });
      s.on("error", () => r(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listens on ${port}`);
}

const backendConf = join(dir, "backends.conf");
writeFileSync(
  backendConf,
  `daemon off; worker_processes 1; pid ${dir}/backends.pid; error_log ${dir}/backends.err;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 100000;
${BACKENDS.map((p) => `  server { listen 127.0.0.1:${p}; location / { return 200 "ok from ${p}\\n"; } }`).join("\n")}
}
`,
);

const proxies = {
  kubeha: () => {
    const cfg = join(dir, "agent.json");
    writeFileSync(
      cfg,
      JSON.stringify({
        host: "bench",
        metricsPort: 19942,
        frontends: [
          {
            name: "bench",
            listen: `127.0.0.1:${FRONT}`,
            backends: BACKENDS.map((p) => `127.0.0.1:${p}`),
            check: { kind: "tcp", intervalMs: 500, timeoutMs: 500, fall: 2, rise: 3 },
            connectTimeoutMs: 500,
          },
        ],
      }),
    );
    return start(agentBin, ["agent", "--config", cfg]);
  },
  haproxy: () => {
    const cfg = join(dir, "haproxy.cfg");
    writeFileSync(
      cfg,
      `global\n  maxconn 8000\n  pidfile ${dir}/haproxy.pid\ndefaults\n  mode tcp\n  timeout connect 500ms\n  timeout client 30s\n  timeout server 30s\n  retries 3\n  option redispatch\nfrontend fe\n  bind 127.0.0.1:${FRONT}\n  default_backend be\nbackend be\n  balance leastconn\n${BACKENDS.map((p, i) => `  server b${i} 127.0.0.1:${p} check inter 500ms fall 2 rise 3`).join("\n")}\n`,
    );
    return start("haproxy", ["-db", "-f", cfg]);
  },
  nginx: () => {
    const cfg = join(dir, "nginx-stream.conf");
    writeFileSync(
      cfg,
      `load_module /usr/lib/nginx/modules/ngx_stream_module.so;\ndaemon off; worker_processes auto; pid ${dir}/stream.pid; error_log ${dir}/stream.err;\nevents { worker_connections 20000; }\nstream { upstream be { least_conn; ${BACKENDS.map((p) => `server 127.0.0.1:${p};`).join(" ")} }\n  server { listen 127.0.0.1:${FRONT}; proxy_pass be; proxy_connect_timeout 500ms; } }\n`,
    );
    return start("nginx", ["-c", cfg, "-e", `${dir}/stream.err`]);
  },
};

function wrk(closeEach) {
  const args = [
    "-t1",
    "-c50",
    `-d${seconds}s`,
    "--latency",
    ...(closeEach ? ["-H", "Connection: close"] : []),
    `http://127.0.0.1:${FRONT}/`,
  ];
  const out = spawnSync("wrk", args, { encoding: "utf8" }).stdout;
  const rps = Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0);
  const p50 = out.match(/\s50%\s+([\d.]+)(us|ms|s)/);
  const unit = { us: 0.001, ms: 1, s: 1000 }[p50?.[2] ?? "ms"];
  const errors =
    Number(out.match(/Non-2xx or 3xx responses: (\d+)/)?.[1] ?? 0) +
    Number(out.match(/Socket errors: connect (\d+)/)?.[1] ?? 0);
  return { rps, p50: Number(p50?.[1] ?? 0) * unit, errors };
}

const results = {};
start("nginx", ["-c", backendConf, "-e", `${dir}/backends.err`]); // stopped with the other children
try {
  for (const p of BACKENDS) await waitPort(p);
  for (let r = 0; r < rounds; r++) {
    for (const [name, launch] of Object.entries(proxies)) {
      const proc = launch();
      await waitPort(FRONT);
      await sleep(700);
      for (const mode of ["keep-alive", "new connection"]) {
        const m = wrk(mode === "new connection");
        const key = `${name}|${mode}`;
        results[key] ??= { rps: [], p50: [], errors: 0 };
        results[key].rps.push(m.rps);
        results[key].p50.push(m.p50);
        results[key].errors += m.errors;
      }
      await stop(proc);
    }
  }
} finally {
  for (const c of children) await stop(c);
  rmSync(dir, { recursive: true, force: true });
}

console.log(
  `L4 proxy on loopback, 3 nginx backends, wrk -t1 -c50 -d${seconds}s, median of ${rounds} rounds, ${process.version}`,
);
console.log("proxy     mode             req/s   p50 ms   errors   vs HAProxy");
for (const mode of ["keep-alive", "new connection"]) {
  const base = median(results[`haproxy|${mode}`].rps);
  for (const name of Object.keys(proxies)) {
    const r = results[`${name}|${mode}`];
    console.log(
      `${name.padEnd(9)} ${mode.padEnd(15)} ${median(r.rps).toFixed(0).padStart(7)} ${median(r.p50).toFixed(2).padStart(8)} ${String(r.errors).padStart(8)}   ${(median(r.rps) / base).toFixed(2)}x`,
    );
  }
}
