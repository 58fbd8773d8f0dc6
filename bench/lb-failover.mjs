#!/usr/bin/env node
// Failover through a worker's local API proxy, on real lab hosts: the kubeha
// agent (127.0.0.1:6443), HAProxy as in kubeadm's HA sample (option httpchk
// GET /healthz, default inter/fall/rise; 127.0.0.1:7443) and nginx stream as
// RKE's nginx-proxy (no active checks; 127.0.0.1:8443), all on w1 in front of
// the same three apiserver stand-ins. While bounded clients run on w1 through
// all three at once (a new connection per request: the drill's node-local
// client, a curl loop on the host; keep-alive: one curl reusing its
// connection for many URLs), one stand-in is killed with SIGKILL, or its whole
// host is powered off. Prints failed requests per proxy. Run as root: npm run build && node bench/lb-failover.mjs [trials]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  bin,
  failedIn,
  kubeha,
  labShell,
  labTransport,
  remoteCurlLoop,
  sleep,
  startPeerProxies,
} from "./common.mjs";

const trials = Number(process.argv[2] ?? 3);
const work = mkdtempSync("/var/tmp/kubeha-bench-failover-");
const dir = join(work, "lab");
const CIDR = "192.168.235";
const cps = ["cp1", "cp2", "cp3"];
const addr = (h) => `${CIDR}.${11 + cps.indexOf(h)}`;

const { ssh, sshAsync } = labShell(dir);

const PORTS = { kubeha: 6443, haproxy: 7443, nginx: 8443 };
const CURL = "curl -s -m 5 --cacert /etc/kubernetes/pki/ca.crt";
// a new connection per request: the drill's node-local client (a curl loop on the host, every request recorded)
const newConnClient = (name, port, run) =>
  remoteCurlLoop({
    name,
    description: `curl on w1 to https://127.0.0.1:${port}/version`,
    transport: labTransport(dir, "w1"),
    url: `https://127.0.0.1:${port}/version`,
    caFile: "/etc/kubernetes/pki/ca.crt",
    run,
    offsetMs: 0,
    limits: { maxMs: 20_000, intervalMs: 10 },
  });
// keep-alive: one curl, many URLs on one connection (reconnecting when it breaks)
const keepAliveLoop = (port, n) =>
  `${CURL} -w '%{http_code}\\n' $(for i in $(seq ${n}); do printf -- '-o /dev/null https://127.0.0.1:${port}/version '; done) | grep -vc '^200$'`;

const results = {};
try {
  const labSpec = join(work, "lab.yaml");
  writeFileSync(
    labSpec,
    `apiVersion: kubeha/v1alpha1\nkind: Lab\nspec:\n  cidr: ${CIDR}.0/24\n  hosts:\n${cps.map((h) => `    - { name: ${h}, roles: [controlplane, etcd] }\n`).join("")}    - { name: w1, roles: [worker] }\n`,
  );
  kubeha("lab", "up", "-f", labSpec, "--dir", dir);
  kubeha("up", "-f", join(dir, "cluster.yaml"));
  startPeerProxies(
    ssh,
    "w1",
    cps.map((h) => `${addr(h)}:6443`),
  );
  await sleep(3000);
  for (const fault of ["apiserver SIGKILL", "host power-off"]) {
    for (let t = 0; t < trials; t++) {
      const victim = cps[(t % 2) + 1];
      for (const mode of ["new connection", "keep-alive"]) {
        // each client started, and how to end it with its count of failed requests
        const finish = Object.entries(PORTS).map(([name, port]) => {
          if (mode === "new connection") {
            const c = newConnClient(name, port, `bench-${name}-${t}`);
            return async () => failedIn(await c.stop());
          }
          const out = sshAsync("w1", keepAliveLoop(port, 1500));
          return async () => Number((await out).trim().split("\n").at(-1) || 0);
        });
        await sleep(1500);
        if (fault === "apiserver SIGKILL") ssh(victim, "systemctl kill -s KILL kube-apiserver");
        else kubeha("lab", "kill", victim, "--dir", dir);
        if (mode === "new connection") await sleep(6000);
        const counts = await Promise.all(finish.map((f) => f()));
        for (const [i, name] of Object.keys(PORTS).entries()) {
          const failed = counts[i];
          const key = `${fault}|${mode}|${name}`;
          results[key] = [...(results[key] ?? []), failed];
        }
        if (fault === "host power-off") kubeha("lab", "start", victim, "--dir", dir);
        await sleep(4000); // let every proxy see the backend again (HAProxy: rise 2 x inter 2 s)
      }
    }
  }
} finally {
  spawnSync(process.execPath, [bin, "lab", "down", "--dir", dir], { stdio: "ignore" });
  rmSync(work, { recursive: true, force: true });
}
console.log(
  `failed requests through w1's local API proxy while one of 3 apiserver stand-ins fails, ${trials} trials each`,
);
console.log("fault               client           kubeha      HAProxy (kubeadm)   nginx (RKE)");
for (const fault of ["apiserver SIGKILL", "host power-off"]) {
  for (const mode of ["new connection", "keep-alive"]) {
    const cell = (name) => (results[`${fault}|${mode}|${name}`] ?? []).join(",").padEnd(18);
    console.log(
      `${fault.padEnd(19)} ${mode.padEnd(16)} ${cell("kubeha")} ${cell("haproxy")}  ${cell("nginx")}`,
    );
  }
}
