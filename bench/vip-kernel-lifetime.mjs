#!/usr/bin/env node
// How long after its last refresh the kernel really removes an IPv4 address
// added with a lifetime (`ip addr replace ... valid_lft N preferred_lft N`):
// the VIP manager's last line of defence against a frozen agent
// (src/agent/vip/manager.ts). The address lives on the loopback of a network
// namespace made for the run; the kernel's own address events, with their
// timestamps, give the delays. Run as root: node bench/vip-kernel-lifetime.mjs [trials=20]
import { spawn, spawnSync } from "node:child_process";
import { median, p95, sleep } from "./common.mjs";

const trials = Number(process.argv[2] ?? 20);
const ns = `kubeha-lft-${process.pid}`;
const ADDR = "10.254.254.1";
const ip = (...args) => {
  const r = spawnSync("ip", ["-n", ns, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
};
const hold = (lft) =>
  ip("addr", "replace", `${ADDR}/32`, "dev", "lo", "valid_lft", `${lft}`, "preferred_lft", `${lft}`);

spawnSync("ip", ["netns", "add", ns]);
const results = {};
try {
  ip("link", "set", "lo", "up");
  const monitor = spawn("ip", ["-n", ns, "-ts", "-o", "monitor", "address"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  const events = [];
  monitor.stdout.on("data", (d) => {
    for (const line of String(d).split("\n")) {
      const ts = line.match(/^\[([\d-]+T[\d:.]+)\]/)?.[1];
      if (ts && line.includes(`${ADDR}/32`))
        events.push({ at: Date.parse(`${ts}Z`), deleted: line.includes("Deleted") });
    }
  });
  await sleep(300);
  for (const lft of [1, 2]) {
    results[lft] = [];
    for (let t = 0; t < trials; t++) {
      const from = events.length;
      hold(lft);
      // refresh once at a random point, as the holder does after each acknowledged renewal
      await sleep(Math.random() * 700);
      hold(lft);
      const deadline = Date.now() + lft * 1000 + 3000;
      while (!events.slice(from).some((e) => e.deleted) && Date.now() < deadline) await sleep(5);
      const mine = events.slice(from);
      const gone = mine.find((e) => e.deleted);
      const lastRefresh = mine.filter((e) => !e.deleted).at(-1);
      if (gone && lastRefresh) results[lft].push(gone.at - lastRefresh.at);
      await sleep(Math.random() * 300);
    }
  }
  monitor.kill();
} finally {
  spawnSync("ip", ["netns", "del", ns]);
}
console.log(
  `kernel removal of an address after its last lifetime refresh, ${trials} trials (ms after the refresh)`,
);
for (const [lft, xs] of Object.entries(results))
  console.log(
    `valid_lft ${lft} s: min ${Math.min(...xs)}  median ${median(xs)}  p95 ${p95(xs)}  max ${Math.max(...xs)}  (${xs.join(", ")})`,
  );
