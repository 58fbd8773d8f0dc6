#!/usr/bin/env node
// The ingress edge against keepalived, on the same two lab edge hosts in one
// run, with the same controllers (the lab's nginx on host network, answering
// with its host name). kubeha holds two ingress VIPs (.200, .201: one per
// edge, etcd lease 1 s); keepalived holds .210 as the bare-metal edge article
// configures it (every edge "state MASTER", priority 100, advert_int 1, the
// VIP alone: IPVS is not in this kernel), with a controller check in the
// style of the kubeadm HA guide's (interval 3, weight -2, fall 10, rise 2),
// since the article has none. The drill's clients run on the operator's side of the
// bridge, and what they saw is read as `kubeha drill` reads it (outage windows).
//   1. throughput (wrk, keep-alive and a new connection per request): through a
//      VIP against straight to the same edge's address; two VIPs against one;
//   2. the holder powered off: until requests succeed again, failed requests
//      (a client with a new connection per request, and one keep-alive client);
//   3. the holder cut off from the other hosts for 10 s: ms two edges held the VIP;
//   4. planned stops on the holder (its agent / keepalived, then its controller): failed requests.
// Run as root: npm run build && node bench/ingress.mjs [trials=3] [partition trials=10]
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Lab } from "../dist/lab/lab.js";
import { afterFault, bin, HoldWatch, httpLoop, kubeha, median, p95, singleHolder, sleep } from "./common.mjs";

const trials = Number(process.argv[2] ?? 3);
const partitionTrials = Number(process.argv[3] ?? 10);
const work = mkdtempSync("/var/tmp/kubeha-bench-ingress-");
const dir = join(work, "lab");
const CIDR = "192.168.239";
const edges = ["edge1", "edge2"];
const KEEPALIVED_VIP = `${CIDR}.210`;
const SYSTEMS = ["kubeha", "keepalived"];

const keepalivedConf = `! Configuration File for keepalived
global_defs {
   router_id LVS_DEVEL
}

vrrp_script check_ingress {
  script "/usr/bin/curl -sf -m 2 -o /dev/null http://127.0.0.1:9000/ping"
  interval 3
  weight -2
  fall 10
  rise 2
}

vrrp_instance VI_1 {
    state MASTER
    interface host0
    virtual_router_id 51
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        ${KEEPALIVED_VIP}/32
    }
    track_script {
        check_ingress
    }
}
`;

let lab;
/** The VIP under test: kubeha's first ingress VIP, or keepalived's. */
const vipOf = (system) => (system === "kubeha" ? lab.topology.ingressVips[0] : KEEPALIVED_VIP);
const settled = (address) => singleHolder(lab, edges, address, 60_000);
const UNITS = "kubeha-agent kubeha-ingress keepalived";
async function backInService(host) {
  for (let i = 0; i < 120; i++) {
    if (lab.ssh(host, `systemctl is-active ${UNITS}`).code === 0) return;
    await sleep(500);
  }
  throw new Error(`${host} did not come back`);
}

/** Runs wrk against every URL at once (background shells), summing requests/s. */
function wrk(urls, connections, close) {
  const script = urls
    .map(
      (u, i) =>
        `wrk -t1 -c${connections} -d4s ${close ? "-H 'Connection: close' " : ""}${u} > ${work}/wrk${i} & `,
    )
    .join("");
  spawnSync("sh", ["-c", `${script} wait`]);
  return urls.reduce((sum, _, i) => {
    const out = readFileSync(`${work}/wrk${i}`, "utf8");
    return sum + Number(out.match(/Requests\/sec:\s+([\d.]+)/)?.[1] ?? 0);
  }, 0);
}

const results = { throughput: {}, kill: {}, stopAgent: {}, stopController: {}, partition: {}, moves: {} };
for (const s of SYSTEMS) {
  for (const k of ["kill", "stopAgent", "stopController"]) results[k][s] = { new: [], keep: [] };
  results.partition[s] = [];
  results.moves[s] = [];
}
const push = (rows, key, v) => {
  rows[key] ??= [];
  rows[key].push(v);
};
try {
  const labSpec = join(work, "lab.yaml");
  writeFileSync(
    labSpec,
    `apiVersion: kubeha/v1alpha1\nkind: Lab\nspec:\n  cidr: ${CIDR}.0/24\n  hosts:\n${["cp1", "cp2", "cp3"].map((h) => `    - { name: ${h}, roles: [controlplane, etcd] }\n`).join("")}${edges.map((h) => `    - { name: ${h}, roles: [worker, edge] }\n`).join("")}`,
  );
  kubeha("lab", "up", "-f", labSpec, "--dir", dir);
  kubeha("up", "-f", join(dir, "cluster.yaml"));
  lab = Lab.open(dir);
  for (const h of edges)
    lab.ssh(
      h,
      `cat > /etc/keepalived/keepalived.conf <<'EOF2'\n${keepalivedConf}EOF2\nsystemctl enable -q keepalived; systemctl restart keepalived`,
    );
  const [v1, v2] = lab.topology.ingressVips;
  await settled(KEEPALIVED_VIP);
  const h1 = await settled(v1);
  const h2 = await settled(v2);
  if (h1 === h2) throw new Error(`both ingress VIPs on ${h1}: the bench wants one per edge`);

  // 1. throughput, alternating the targets
  const direct = `http://${lab.host(h1).address}/`;
  for (let t = 0; t < 5; t++) {
    for (const close of [false, true]) {
      const mode = close ? "new" : "keep";
      push(results.throughput, `vip-${mode}`, wrk([`http://${v1}/`], 16, close));
      push(results.throughput, `direct-${mode}`, wrk([direct], 16, close));
      push(results.throughput, `one-${mode}`, wrk([`http://${v1}/`, `http://${v1}/`], 16, close));
      push(results.throughput, `two-${mode}`, wrk([`http://${v1}/`, `http://${v2}/`], 16, close));
    }
  }

  // 2 and 4: faults on the holder of the system's VIP, clients on both kinds of connection
  const faultTrial = async (system, fault) => {
    const vip = vipOf(system);
    const victim = await settled(vip);
    const ms =
      fault === "kill" ? 15_000 : system === "keepalived" && fault === "stopController" ? 45_000 : 10_000;
    // the drill's ingress clients: a new connection per request, and one kept-alive connection
    const clients = [false, true].map((reuse) =>
      httpLoop({
        name: reuse ? "ingress-reused" : "ingress-new",
        description: `GET http://${vip}/`,
        url: `http://${vip}/`,
        reuse,
        timeoutMs: 300,
        limits: { maxMs: ms + 5000, intervalMs: 10 },
      }),
    );
    const begun = Date.now();
    await sleep(1000);
    let at = Date.now();
    if (fault === "kill") await lab.kill(victim);
    else {
      const unit =
        fault === "stopAgent" ? (system === "kubeha" ? "kubeha-agent" : "keepalived") : "kubeha-ingress";
      at = Number(lab.ssh(victim, `date +%s%3N; systemctl stop ${unit}`).stdout.split("\n")[0]);
    }
    await sleep(Math.max(0, begun + ms - Date.now()));
    const [fresh, keep] = await Promise.all(clients.map((c) => c.stop()));
    results[fault][system].new.push(afterFault(fresh, at));
    results[fault][system].keep.push(afterFault(keep, at));
    if (fault === "kill") await lab.start(victim);
    else lab.ssh(victim, `systemctl start ${UNITS}`);
    await backInService(victim);
    await sleep(8000); // keepalived's check rises after 2 x 3 s
  };
  for (let t = 0; t < trials; t++)
    for (const system of SYSTEMS)
      for (const fault of ["kill", "stopAgent", "stopController"]) await faultTrial(system, fault);

  // 3. partitions
  for (let t = 0; t < partitionTrials * 2; t++) {
    const system = SYSTEMS[t % 2];
    const vip = vipOf(system);
    const victim = await settled(vip);
    const watch = new HoldWatch(
      dir,
      edges.map((h) => lab.host(h)),
      vip,
      60,
    );
    await HoldWatch.settle();
    lab.partition(victim);
    await sleep(10_000);
    lab.heal();
    const healed = Date.now();
    await sleep(6000);
    watch.stop();
    results.partition[system].push(Math.round(watch.overlapMs()));
    results.moves[system].push(watch.moves(healed));
  }
} finally {
  lab?.heal();
  spawnSync(process.execPath, [bin, "lab", "down", "--dir", dir], { stdio: "ignore" });
  rmSync(work, { recursive: true, force: true });
}

const fmt = (x) => (Number.isNaN(x) ? "never" : String(Math.round(x)));
const row = (what, xs, unit) =>
  `${what.padEnd(30)} median ${fmt(median(xs)).padStart(7)} ${unit}  p95 ${fmt(p95(xs)).padStart(7)} ${unit}  (${xs.map(fmt).join(", ")})`;
const tp = results.throughput;
console.log(`ingress edge on 2 lab edges (nginx controllers), ${process.version}`);
console.log("1. throughput, wrk -t1 -c16 -d4s per client, 5 trials (requests/s)");
for (const mode of ["keep", "new"]) {
  const label = mode === "keep" ? "keep-alive" : "new connection per request";
  console.log(`  ${label}`);
  console.log(`    ${row("through an ingress VIP", tp[`vip-${mode}`], "req/s")}`);
  console.log(`    ${row("straight to the edge", tp[`direct-${mode}`], "req/s")}`);
  console.log(
    `    VIP / straight: ${(median(tp[`vip-${mode}`]) / median(tp[`direct-${mode}`])).toFixed(2)}x`,
  );
  console.log(`    ${row("two clients, one VIP", tp[`one-${mode}`], "req/s")}`);
  console.log(`    ${row("two clients, two VIPs", tp[`two-${mode}`], "req/s")}`);
  console.log(`    two VIPs / one: ${(median(tp[`two-${mode}`]) / median(tp[`one-${mode}`])).toFixed(2)}x`);
}
for (const [fault, title] of [
  ["kill", `2. holder powered off, ${trials} trials: ms until requests succeed again / failed requests`],
  ["stopAgent", `4. holder's agent (kubeha-agent / keepalived) stopped, ${trials} trials`],
  ["stopController", `4. holder's controller stopped (systemctl stop), ${trials} trials`],
]) {
  console.log(title);
  for (const kind of ["new", "keep"]) {
    for (const system of SYSTEMS) {
      const rs = results[fault][system][kind];
      const label = `${system} ${kind === "new" ? "new conn" : "keep-alive"}`;
      console.log(
        `  ${row(
          label,
          rs.map((r) => r.ms),
          "ms",
        )}  failed ${rs.map((r) => r.failed).join(", ")}`,
      );
    }
    const [k, v] = SYSTEMS.map((s) => median(results[fault][s][kind].map((r) => r.ms)));
    if (v > 0) console.log(`    kubeha / keepalived: ${(k / v).toFixed(2)}x`);
  }
}
console.log(
  `3. holder cut off for 10 s, ${partitionTrials} trials: ms two edges held the VIP; moves after the heal`,
);
for (const system of SYSTEMS)
  console.log(
    `  ${row(system, results.partition[system], "ms")}  total ${results.partition[system].reduce((a, b) => a + b, 0)} ms; moves ${results.moves[system].join(", ")}`,
  );
