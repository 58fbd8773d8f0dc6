#!/usr/bin/env node
// Times `kubeha up` on a fresh default lab (7 hosts: cp1..cp3 controlplane+etcd
// with the control plane, w1..w2, edge1..edge2) and the no-op re-run, through
// the real CLI over SSH. Each round
// uses a new lab, so "fresh" really is fresh.
// Run as root: npm run build && node bench/up.mjs [rounds]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bin, median } from "./common.mjs";

const rounds = Number(process.argv[2] ?? 3);

function kubeha(args) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`kubeha ${args.join(" ")} failed:\n${r.stdout}\n${r.stderr}`);
  return { seconds: (performance.now() - t0) / 1000, out: r.stdout };
}

const fresh = [];
const noop = [];
for (let i = 0; i < rounds; i++) {
  const work = mkdtempSync("/var/tmp/kubeha-bench-up-");
  const dir = join(work, "lab");
  try {
    kubeha(["lab", "up", "--dir", dir]);
    const spec = join(dir, "cluster.yaml");
    const first = kubeha(["up", "-f", spec]);
    const second = kubeha(["up", "-f", spec]);
    if (!/^0 changes/m.test(second.out)) throw new Error(`the re-run changed something:\n${second.out}`);
    fresh.push(first.seconds);
    noop.push(second.seconds);
  } finally {
    kubeha(["lab", "down", "--dir", dir]);
    rmSync(work, { recursive: true, force: true });
  }
}
console.log(
  `kubeha up, default 7-host lab with the control plane and nodes, ${rounds} rounds, ${process.version}`,
);
console.log(
  `  fresh lab           median ${median(fresh).toFixed(1)} s   [${fresh.map((s) => s.toFixed(1)).join(", ")}]`,
);
console.log(
  `  no-op re-run        median ${median(noop).toFixed(1)} s   [${noop.map((s) => s.toFixed(1)).join(", ")}]  0 changes`,
);
