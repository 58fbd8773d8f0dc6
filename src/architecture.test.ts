/**
 * The folders tell the architecture (STYLE.md): each sits on a floor, and no
 * import runs from a lower floor to a higher one, nor do two folders import
 * each other. Tests and test fixtures may reach anywhere.
 */
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, normalize, relative } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { packageRoot } from "./core/package-info.js";

/** Lowest first. A folder may import its own floor and those below. */
const FLOORS: Record<string, number> = {
  core: 0,
  spec: 1,
  kubernetes: 1,
  transport: 2,
  pki: 2,
  import: 2,
  binaries: 2,
  lab: 2,
  etcd: 3,
  agent: 4,
  standin: 4,
  render: 5,
  addons: 6,
  services: 6,
  plan: 7,
  deploy: 7,
  phases: 8,
  status: 8,
  drill: 8,
  actions: 9,
  cli: 10,
  node: 10,
};

const src = fileURLToPath(new URL("src/", packageRoot));
const isTestOnly = (f: string) => f.endsWith(".test.ts") || f.endsWith("-fixtures.ts");
const folderOf = (file: string) => relative(src, file).split("/")[0] ?? "";

/** Every import between top folders of src/: [from folder, to folder, file]. */
function imports(): [string, string, string][] {
  const out: [string, string, string][] = [];
  for (const rel of readdirSync(src, { recursive: true }).map(String)) {
    if (!rel.endsWith(".ts") || isTestOnly(rel)) continue;
    const file = join(src, rel);
    const text = readFileSync(file, "utf8");
    for (const m of text.matchAll(/^(?:import|export)[^;]*?from "(\.{1,2}\/[^"]+)";/gms)) {
      const target = normalize(join(dirname(file), m[1] ?? ""));
      const from = folderOf(file);
      const to = folderOf(target);
      if (from !== to) out.push([from, to, rel]);
    }
  }
  return out;
}

describe("architecture", () => {
  const edges = imports();

  it("puts every folder of src/ on a floor", () => {
    const folders = readdirSync(src, { withFileTypes: true })
      .filter((d) => d.isDirectory())
      .map((d) => d.name);
    assert.deepEqual(
      folders.filter((f) => !(f in FLOORS)),
      [],
      "add new folders to FLOORS",
    );
    assert.ok(edges.length > 50, `imports were read: ${edges.length}`);
  });

  it("imports nothing from a higher floor", () => {
    const upward = edges
      .filter(([from, to]) => (FLOORS[to] ?? 99) > (FLOORS[from] ?? -1))
      .map(([from, to, file]) => `${file}: ${from} -> ${to}`);
    assert.deepEqual(upward, []);
  });

  it("has no two folders importing each other", () => {
    const pairs = new Set(edges.map(([from, to]) => `${from}>${to}`));
    const mutual = [...pairs].filter((p) => {
      const [a, b] = p.split(">");
      return pairs.has(`${b}>${a}`);
    });
    assert.deepEqual(mutual, []);
  });
});
