#!/usr/bin/env node
// The npm registry reachable here serves only the linux-glibc builds of
// packages that ship native binaries as per-platform optional dependencies
// (biome, esbuild). `npm install` then leaves the other platforms out of
// package-lock.json and `npm ci` refuses the lock as out of sync. This adds
// the missing entries with their os/cpu/libc, which npm ci skips on this
// platform without fetching them. Run it after every `npm install`.
import { readFileSync, writeFileSync } from "node:fs";

const file = "package-lock.json";
const lock = JSON.parse(readFileSync(file, "utf8"));
const packages = lock.packages;
const platform =
  /-(android|darwin|freebsd|linux|netbsd|openbsd|sunos|win32|aix|openharmony)-(x64|arm64|arm|ia32|ppc64|s390x|riscv64|loong64|mips64el)(-(musl|gnu|msvc|gnueabihf))?$/;
let added = 0;
for (const entry of Object.values(packages)) {
  for (const [name, version] of Object.entries(entry.optionalDependencies ?? {})) {
    const key = `node_modules/${name}`;
    const m = name.match(platform);
    if (packages[key] || !m) continue;
    packages[key] = {
      version,
      cpu: [m[2]],
      ...(entry.dev && { dev: true }),
      optional: true,
      os: [m[1]],
      ...(m[4] === "musl" && { libc: ["musl"] }),
    };
    added++;
  }
}
lock.packages = Object.fromEntries(
  Object.entries(packages).sort(([a], [b]) => (a === "" ? -1 : b === "" ? 1 : a < b ? -1 : 1)),
);
writeFileSync(file, `${JSON.stringify(lock, null, 2)}\n`);
console.log(`repair-lock: added ${added} platform entries`);
