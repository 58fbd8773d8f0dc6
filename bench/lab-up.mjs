#!/usr/bin/env node
// Times `kubeha lab up` of the 7-host default lab: cold (empty image cache, so
// debootstrap runs) and warm (cached image), and `kubeha lab down`, through the
// real CLI. Run as root: npm run build && node bench/lab-up.mjs [warm rounds]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { join } from "node:path";
import { bin, median } from "./common.mjs";

const rounds = Number(process.argv[2] ?? 3);
const work = mkdtempSync("/var/tmp/kubeha-bench-lab-");
const dir = join(work, "lab");

function time(args, env = {}) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args, "--dir", dir], {
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`kubeha ${args.join(" ")} failed (${r.status})`);
  return (performance.now() - t0) / 1000;
}

const coldCache = join(work, "cache");
const cold = time(["lab", "up"], { KUBEHA_CACHE: coldCache });
const downs = [time(["lab", "down"])];
rmSync(coldCache, { recursive: true, force: true });
time(["lab", "up"]); // make sure the shared cache holds the image
downs.push(time(["lab", "down"]));
const warm = [];
for (let i = 0; i < rounds; i++) {
  warm.push(time(["lab", "up"]));
  downs.push(time(["lab", "down"]));
}
rmSync(work, { recursive: true, force: true });
console.log(`kubeha lab, 7-host default, ${process.version}, ${rounds} warm rounds`);
console.log(`  lab up, cold (debootstrap + boot)  ${cold.toFixed(1)} s`);
console.log(
  `  lab up, warm (median)              ${median(warm).toFixed(1)} s   [${warm.map((w) => w.toFixed(1)).join(", ")}]`,
);
console.log(`  lab down (median)                  ${median(downs).toFixed(1)} s`);
