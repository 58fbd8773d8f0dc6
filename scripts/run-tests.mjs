#!/usr/bin/env node
// Runs every compiled test file (dist/**/*.test.js) with Node's own test runner.
// --quick leaves out the slow suites (files named *.lab.test.js, which need real
// hosts, etcd or root); CI and `npm test` run everything.
import { spawnSync } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";

const quick = process.argv.includes("--quick");
const files = readdirSync("dist", { recursive: true })
  .map(String)
  .filter((f) => f.endsWith(".test.js"))
  .filter((f) => !(quick && f.endsWith(".lab.test.js")))
  .sort()
  .map((f) => join("dist", f));

if (files.length === 0) {
  console.error("no test files under dist/: run `npm run build` first");
  process.exit(1);
}
const args = ["--enable-source-maps", "--test", "--test-reporter=spec", ...files];
const run = spawnSync(process.execPath, args, { stdio: "inherit" });
process.exit(run.status ?? 1);
