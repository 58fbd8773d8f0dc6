#!/usr/bin/env node
// Times `pki generate` (the library call the CLI makes) on the RKE 10-node
// example and on a 500-host spec: a cold run into an empty state directory,
// and the no-op re-run that only checks every file. Prints medians.
// Usage: npm run build && node bench/pki-generate.mjs [rounds]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generatePki } from "../dist/pki/generate.js";
import { loadSpec } from "../dist/spec/load.js";
import { baseSpec, loadObject } from "../dist/spec/spec-fixtures.js";
import { median } from "./common.mjs";

const rounds = Number(process.argv[2] ?? 5);

function bigSpec(n) {
  const spec = baseSpec();
  spec.spec.network.hostCidr = "10.20.0.0/16";
  spec.spec.controlPlane.endpoint.vip = "10.20.255.100";
  spec.spec.ingress.vip = "10.20.255.10";
  spec.spec.hosts = Array.from({ length: n }, (_, i) => ({
    name: i < 3 ? `cp${i + 1}` : i < 5 ? `edge${i - 2}` : `w${i - 4}`,
    address: `10.20.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    roles: i < 3 ? ["controlplane", "etcd"] : i < 5 ? ["worker", "edge"] : ["worker"],
  }));
  return loadObject(spec).cluster;
}

async function measure(name, cluster) {
  const cold = [];
  const warm = [];
  let files = 0;
  for (let r = 0; r < rounds; r++) {
    const dir = mkdtempSync(join(tmpdir(), "kubeha-bench-pki-"));
    const t0 = performance.now();
    files = (await generatePki(cluster, join(dir, "pki"))).length;
    const t1 = performance.now();
    const again = await generatePki(cluster, join(dir, "pki"));
    const t2 = performance.now();
    if (again.length !== 0) throw new Error("the re-run changed files");
    cold.push(t1 - t0);
    warm.push(t2 - t1);
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `${name.padEnd(22)} ${String(cluster.hosts.length).padStart(5)} hosts ${String(files).padStart(6)} files   cold ${median(cold).toFixed(0).padStart(6)} ms   re-run ${median(warm).toFixed(0).padStart(6)} ms`,
  );
}

console.log(`pki generate, median of ${rounds} rounds (ECDSA P-256, ${process.version})`);
await measure(
  "rke-10-node example",
  loadSpec(new URL("../examples/rke-10-node/cluster.yaml", import.meta.url).pathname).cluster,
);
await measure("500-host spec", bigSpec(500));
