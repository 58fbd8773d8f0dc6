#!/usr/bin/env node
// A rolling change of the control plane under load, on real lab hosts: `kubeha up`
// with a changed kube-apiserver flag restarts cp1..cp3 one at a time, each ready
// again and back in every load balancer before the next. Meanwhile bounded clients
// request /version (a new connection per request: the drill's clients, a curl loop
// on w1 and an HTTPS client here; keep-alive: the drill's reused-connection client
// here, one curl reusing its connection on w1) through w1's node-local proxy (the kubeha agent, 127.0.0.1:6443), through HAProxy as in
// kubeadm's HA sample (option httpchk GET /healthz, default inter/fall/rise;
// 127.0.0.1:7443) and nginx stream as RKE's nginx-proxy (no active checks;
// 127.0.0.1:8443), all on w1 in front of the same apiservers, and from this
// machine through the API VIP. Prints failed requests per path and trial.
// Run as root: npm run build && node bench/rolling.mjs [trials]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import {
  bin,
  failedIn,
  httpLoop,
  kubeha,
  labShell,
  labTransport,
  median,
  remoteCurlLoop,
  sleep,
  startPeerProxies,
} from "./common.mjs";

const trials = Number(process.argv[2] ?? 3);
const work = mkdtempSync("/var/tmp/kubeha-bench-rolling-");
const dir = join(work, "lab");
const CIDR = "192.168.236";
const cps = ["cp1", "cp2", "cp3"];
const addr = (h) => `${CIDR}.${11 + cps.indexOf(h)}`;
const LOOP_SECONDS = 60;

const { ssh, sshAsync } = labShell(dir);
const PORTS = { kubeha: 6443, haproxy: 7443, nginx: 8443 };
// keep-alive on w1: one curl reusing its connection for 200 URLs at a time, until stopped; prints "ok failed"
const loop = (cacert, url) => {
  const curl = `curl -s -m 5 --cacert ${cacert}`;
  const once = `r=$(${curl} -w '%{http_code}\\n' $(for i in $(seq 200); do printf -- '-o /dev/null ${url} '; done)); o=$((o+$(echo "$r" | grep -c '^200$'))); f=$((f+$(echo "$r" | grep -vc '^200$')))`;
  return `o=0; f=0; end=$(( $(date +%s) + ${LOOP_SECONDS} )); while [ $(date +%s) -lt $end ] && [ ! -e /tmp/kubeha-bench-stop ]; do ${once}; done; echo "$o $f"`;
};

const results = {};
const seconds = [];
let round = 0;
try {
  const labSpec = join(work, "lab.yaml");
  writeFileSync(
    labSpec,
    `apiVersion: kubeha/v1alpha1\nkind: Lab\nspec:\n  cidr: ${CIDR}.0/24\n  hosts:\n${cps.map((h) => `    - { name: ${h}, roles: [controlplane, etcd] }\n`).join("")}    - { name: w1, roles: [worker] }\n`,
  );
  kubeha("lab", "up", "-f", labSpec, "--dir", dir);
  const specFile = join(dir, "cluster.yaml");
  const spec = parse(readFileSync(specFile, "utf8"));
  const vip = spec.spec.controlPlane.endpoint.vip;
  kubeha("up", "-f", specFile);
  const state = join(dir, `${spec.metadata.name}.kubeha`);
  startPeerProxies(
    ssh,
    "w1",
    cps.map((h) => `${addr(h)}:6443`),
  );
  await sleep(3000);
  for (let t = 0; t < trials; t++) {
    for (const mode of ["new connection", "keep-alive"]) {
      round++;
      spec.spec.kubernetes = {
        ...spec.spec.kubernetes,
        apiserver: { extraArgs: { "audit-log-maxage": String(20 + round) } },
      };
      writeFileSync(specFile, stringify(spec));
      ssh("w1", "rm -f /tmp/kubeha-bench-stop");
      rmSync("/tmp/kubeha-bench-stop", { force: true });
      const limits = { maxMs: LOOP_SECONDS * 1000, intervalMs: 10 };
      // each client started, and how to end it with its { ok, failed }
      const counted = (history) => ({ ok: history.length - failedIn(history), failed: failedIn(history) });
      const loops = [
        ...Object.entries(PORTS).map(([name, port]) => {
          const url = `https://127.0.0.1:${port}/version`;
          if (mode === "new connection") {
            const c = remoteCurlLoop({
              name,
              description: `curl on w1 to ${url}`,
              transport: labTransport(dir, "w1"),
              url,
              caFile: "/etc/kubernetes/pki/ca.crt",
              run: `bench-${name}-${round}`,
              offsetMs: 0,
              limits,
            });
            return async () => [name, counted(await c.stop())];
          }
          const out = sshAsync("w1", loop("/etc/kubernetes/pki/ca.crt", url));
          return async () => {
            const [ok, failed] = (await out).trim().split("\n").at(-1).split(" ").map(Number);
            return [name, { ok, failed }];
          };
        }),
        (() => {
          const c = httpLoop({
            name: "VIP",
            description: `GET https://${vip}:6443/version`,
            url: `https://${vip}:6443/version`,
            reuse: mode === "keep-alive",
            tls: { ca: readFileSync(join(state, "pki/ca.crt"), "utf8") },
            timeoutMs: 5000,
            limits,
          });
          return async () => ["VIP", counted(await c.stop())];
        })(),
      ];
      await sleep(1500);
      const t0 = performance.now();
      const out = kubeha("up", "-f", specFile);
      seconds.push((performance.now() - t0) / 1000);
      if ((out.match(/restart kube-apiserver/g) ?? []).length !== 3)
        throw new Error(`expected 3 apiserver restarts:\n${out}`);
      await sleep(1500);
      ssh("w1", "touch /tmp/kubeha-bench-stop");
      writeFileSync("/tmp/kubeha-bench-stop", "");
      for (const [name, { ok, failed }] of await Promise.all(loops.map((finish) => finish()))) {
        const key = `${mode}|${name}`;
        results[key] = [...(results[key] ?? []), { ok, failed }];
      }
    }
  }
} finally {
  rmSync("/tmp/kubeha-bench-stop", { force: true });
  spawnSync(process.execPath, [bin, "lab", "down", "--dir", dir], { stdio: "ignore" });
  rmSync(work, { recursive: true, force: true });
}
console.log(
  `rolling restart of 3 apiservers (kubeha up, one flag changed), ${trials} trials per client kind; up took median ${median(seconds).toFixed(1)} s`,
);
console.log("failed/answered requests per trial");
console.log("client           kubeha VIP         w1 kubeha proxy    w1 HAProxy (kubeadm)  w1 nginx (RKE)");
for (const mode of ["new connection", "keep-alive"]) {
  const cell = (name) =>
    (results[`${mode}|${name}`] ?? [])
      .map((r) => `${r.failed}/${r.ok + r.failed}`)
      .join(" ")
      .padEnd(18);
  console.log(`${mode.padEnd(16)} ${cell("VIP")} ${cell("kubeha")} ${cell("haproxy")}    ${cell("nginx")}`);
}
