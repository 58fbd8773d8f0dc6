#!/usr/bin/env node
// Builds dist/kubeha-node: the host daemons (agent, apiserver stand-in) as one
// self-contained executable — this machine's Node.js binary with the bundled
// code injected as a single executable application (SEA) — so hosts need no
// Node.js. `kubeha up` uploads it. Rebuilt only when its inputs change.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const out = join(root, "dist", "kubeha-node");
const stamp = `${out}.inputs`;
const sources = readdirSync(join(root, "src"), { recursive: true })
  .map(String)
  .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"))
  .sort();
const hash = createHash("sha256").update(process.version);
for (const f of sources) hash.update(f).update(readFileSync(join(root, "src", f)));
const digest = hash.digest("hex");
if (existsSync(out) && existsSync(stamp) && readFileSync(stamp, "utf8") === digest) process.exit(0);

const bundle = join(root, "dist", "kubeha-node.cjs");
const esbuild = join(root, "node_modules", ".bin", "esbuild");
execFileSync(
  esbuild,
  [
    join(root, "src/node/main.ts"),
    "--bundle",
    "--platform=node",
    "--format=cjs",
    "--target=node20",
    `--outfile=${bundle}`,
    "--log-level=warning",
  ],
  { stdio: "inherit" },
);
const seaConfig = join(root, "dist", "sea-config.json");
const blob = join(root, "dist", "kubeha-node.blob");
writeFileSync(seaConfig, JSON.stringify({ main: bundle, output: blob, disableExperimentalSEAWarning: true }));
execFileSync(process.execPath, ["--experimental-sea-config", seaConfig], { stdio: "inherit" });
copyFileSync(process.execPath, out);
chmodSync(out, 0o755);
execFileSync(
  join(root, "node_modules", ".bin", "postject"),
  [out, "NODE_SEA_BLOB", blob, "--sentinel-fuse", "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2"],
  { stdio: "ignore" },
);
writeFileSync(stamp, digest);
console.log(`built ${out}`);
