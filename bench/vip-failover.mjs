#!/usr/bin/env node
// The API VIP against keepalived, on the same three lab controlplane hosts in
// one run. kubeha's VIP (.100) is the agent's, on its etcd lease; keepalived
// holds .101 as the seed articles configure it (VRRP, advert_int 1, priority
// 101 on cp1 and 100 on the others, a check_apiserver track script with
// interval 3, weight -2, fall 10, rise 2) with HAProxy listening on it as in
// kubeadm's keepalived + HAProxy setup. The drill's TCP client on the
// operator's side of the bridge connects to the VIP every 10 ms, and its
// outage windows are read as the drill reads them; every host's kernel address
// events, read into holdings as the drill reads them, say who held which VIP when.
//   1. the holder's host is powered off: time until the VIP answers again;
//   2. the holder's agent (or keepalived) is stopped cleanly: the same;
//   3. the holder is cut off from the other hosts for 10 s: ms two hosts held the VIP;
//   4. the old holder comes back (after 1 and 3): further moves of the VIP.
// Run as root: npm run build && node bench/vip-failover.mjs [trials=5] [partition trials=30]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { leaderInStatus } from "../dist/etcd/etcdctl.js";
import { Lab } from "../dist/lab/lab.js";
import {
  afterFault,
  bin,
  connectLoop,
  HoldWatch,
  kubeha,
  median,
  p95,
  singleHolder,
  sleep,
} from "./common.mjs";

const trials = Number(process.argv[2] ?? 5);
const partitionTrials = Number(process.argv[3] ?? 30);
const work = mkdtempSync("/var/tmp/kubeha-bench-vip-");
const dir = join(work, "lab");
const CIDR = "192.168.237";
const cps = ["cp1", "cp2", "cp3"];
const addr = (h) => `${CIDR}.${11 + cps.indexOf(h)}`;
const VIPS = { kubeha: `${CIDR}.100`, keepalived: `${CIDR}.101` };

const keepalivedConf = (h) => `! Configuration File for keepalived
global_defs {
  router_id LVS_DEVEL
}

vrrp_script check_apiserver {
  script "/etc/keepalived/check_apiserver.sh"
  interval 3
  weight -2
  fall 10
  rise 2
}

vrrp_instance VI_1 {
    state ${h === "cp1" ? "MASTER" : "BACKUP"}
    interface host0
    virtual_router_id 51
    priority ${h === "cp1" ? 101 : 100}
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass kubehabench
    }
    virtual_ipaddress {
        ${VIPS.keepalived}/32
    }
    track_script {
        check_apiserver
    }
}
`;
// the seed's script, with the apiserver at the host's address (where the stand-in listens)
const checkScript = (h) => `#!/bin/sh
errorExit() {
    echo "*** $*" 1>&2
    exit 1
}
curl --silent --max-time 2 --insecure https://${addr(h)}:6443/ -o /dev/null || errorExit "Error GET https://${addr(h)}:6443/"
if ip addr | grep -q ${VIPS.keepalived}; then
    curl --silent --max-time 2 --insecure https://${VIPS.keepalived}:6443/ -o /dev/null || errorExit "Error GET https://${VIPS.keepalived}:6443/"
fi
`;
const haproxyCfg = `global
  maxconn 4000
defaults
  mode tcp
  timeout connect 10s
  timeout client 20s
  timeout server 20s
frontend apiserver
  bind ${VIPS.keepalived}:6443
  default_backend apiserverbackend
backend apiserverbackend
  option httpchk GET /healthz
  http-check expect status 200
  balance roundrobin
${cps.map((h) => `  server ${h} ${addr(h)}:6443 check check-ssl verify none`).join("\n")}
`;

let lab;
const settled = (vip) => singleHolder(lab, cps, vip);
const watchAll = () =>
  Object.fromEntries(
    Object.entries(VIPS).map(([name, vip]) => [
      name,
      new HoldWatch(
        dir,
        cps.map((h) => lab.host(h)),
        vip,
        300,
      ),
    ]),
  );
const UNIT = { kubeha: "kubeha-agent", keepalived: "keepalived" };
/** Waits until `host` runs both VIP daemons again. */
async function backInService(host) {
  for (let i = 0; i < 60; i++) {
    if (lab.ssh(host, "systemctl is-active kubeha-agent keepalived haproxy").code === 0) return;
    await sleep(500);
  }
  throw new Error(`${host} did not come back`);
}
/** The etcd leader's host, from the operator's etcdctl. */
function etcdLeader() {
  const r = spawnSync(
    "sh",
    ["-c", `set -a; . ${dir}/lab.kubeha/etcdctl.env; etcdctl endpoint status -w simple`],
    {
      encoding: "utf8",
    },
  );
  const url = leaderInStatus(r.stdout) ?? "";
  return cps.find((h) => url.includes(`//${addr(h)}:`));
}

const results = {
  kill: { kubeha: [], keepalived: [] },
  killedLeader: { kubeha: [], keepalived: [] },
  stop: { kubeha: [], keepalived: [] },
  partition: { kubeha: [], keepalived: [] },
  failback: { kubeha: [], keepalived: [] },
};
try {
  const labSpec = join(work, "lab.yaml");
  writeFileSync(
    labSpec,
    `apiVersion: kubeha/v1alpha1\nkind: Lab\nspec:\n  cidr: ${CIDR}.0/24\n  hosts:\n${cps.map((h) => `    - { name: ${h}, roles: [controlplane, etcd] }\n`).join("")}`,
  );
  kubeha("lab", "up", "-f", labSpec, "--dir", dir);
  kubeha("up", "-f", join(dir, "cluster.yaml"));
  lab = Lab.open(dir);
  for (const h of cps) {
    lab.ssh(
      h,
      `cat > /etc/keepalived/keepalived.conf <<'EOF2'\n${keepalivedConf(h)}EOF2\ncat > /etc/keepalived/check_apiserver.sh <<'EOF2'\n${checkScript(h)}EOF2\nchmod +x /etc/keepalived/check_apiserver.sh\ncat > /etc/haproxy/haproxy.cfg <<'EOF2'\n${haproxyCfg}EOF2\nsystemctl enable -q keepalived haproxy; systemctl restart haproxy keepalived`,
    );
  }
  for (const vip of Object.values(VIPS)) await settled(vip);

  const faultTrial = async (system, fault) => {
    const vip = VIPS[system];
    const victim = await settled(vip);
    const leader = etcdLeader() === victim;
    const client = connectLoop({
      name: `${system}-vip`,
      description: `TCP connects to ${vip}:6443`,
      host: vip,
      port: 6443,
      timeoutMs: 100,
      limits: { maxMs: 15_000, intervalMs: 10 },
    });
    await sleep(1000);
    let at = Date.now();
    if (fault === "kill") await lab.kill(victim);
    else at = Number(lab.ssh(victim, `date +%s%3N; systemctl stop ${UNIT[system]}`).stdout.split("\n")[0]);
    await sleep(Math.max(0, at + (fault === "kill" ? 11_000 : 5000) - Date.now()));
    results[fault][system].push(afterFault(await client.stop(), at).ms);
    if (fault === "kill") {
      results.killedLeader[system].push(leader);
      await lab.start(victim);
    } else lab.ssh(victim, `systemctl start ${UNIT[system]}`);
    await backInService(victim);
    const watch = watchAll();
    const back = Date.now();
    // keepalived on a returned host: its track script needs rise 2 x interval 3 s, then cp1 (priority 101) preempts
    await sleep(fault === "kill" || system === "keepalived" ? 15_000 : 3000);
    if (fault === "kill") results.failback[system].push(watch[system].moves(back));
    for (const w of Object.values(watch)) w.stop();
  };
  for (let t = 0; t < trials; t++) {
    for (const system of ["kubeha", "keepalived"]) {
      await faultTrial(system, "kill");
      await faultTrial(system, "stop");
    }
  }
  for (let t = 0; t < partitionTrials * 2; t++) {
    const system = t % 2 === 0 ? "kubeha" : "keepalived";
    const victim = await settled(VIPS[system]);
    const watch = watchAll();
    await HoldWatch.settle();
    lab.partition(victim);
    await sleep(10_000);
    lab.heal();
    const healed = Date.now();
    await sleep(8000);
    results.partition[system].push(Math.round(watch[system].overlapMs()));
    results.failback[system].push(watch[system].moves(healed));
    for (const w of Object.values(watch)) w.stop();
  }
} finally {
  lab?.heal();
  spawnSync(process.execPath, [bin, "lab", "down", "--dir", dir], { stdio: "ignore" });
  rmSync(work, { recursive: true, force: true });
}

const row = (what, xs, unit = "ms") =>
  `${what.padEnd(28)} median ${String(median(xs)).padStart(6)} ${unit}  p95 ${String(p95(xs)).padStart(6)} ${unit}  (${xs.join(", ")})`;
console.log(
  `API VIP on 3 lab controlplane hosts: kubeha (etcd lease 1 s) vs keepalived (VRRP advert_int 1), ${process.version}`,
);
for (const [fault, title] of [
  ["kill", `holder host powered off, ${trials} trials: until the VIP answers again`],
  ["stop", `holder agent / keepalived stopped, ${trials} trials: until the VIP answers again`],
  ["partition", `holder cut off for 10 s, ${partitionTrials} trials: ms two hosts held the VIP`],
]) {
  console.log(title);
  for (const system of ["kubeha", "keepalived"]) console.log(`  ${row(system, results[fault][system])}`);
  if (fault === "kill")
    console.log(
      `  (trials in which the powered-off host was also etcd's leader, which adds an etcd election: kubeha ${
        results.killedLeader.kubeha
          .map((l, i) => (l ? i + 1 : ""))
          .filter(Boolean)
          .join(", ") || "none"
      })`,
    );
  const [k, v] = [median(results[fault].kubeha), median(results[fault].keepalived)];
  if (fault !== "partition" && v > 0) console.log(`  kubeha / keepalived: ${(k / v).toFixed(2)}x`);
  if (fault === "partition")
    console.log(
      `  total: kubeha ${results.partition.kubeha.reduce((a, b) => a + b, 0)} ms, keepalived ${results.partition.keepalived.reduce((a, b) => a + b, 0)} ms`,
    );
}
console.log("further VIP moves after the old holder came back (power-off and partition trials)");
for (const system of ["kubeha", "keepalived"])
  console.log(
    `  ${system.padEnd(11)} total ${results.failback[system].reduce((a, b) => a + b, 0)}  (${results.failback[system].join(", ")})`,
  );
