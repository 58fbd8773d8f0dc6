/**
 * Property: whatever text a user feeds the loader, it either loads or fails
 * with a SpecError listing problems; it never crashes with another error.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { stringify } from "yaml";
import { SpecError } from "../core/errors.js";
import { loadSpecText } from "./load.js";
import { baseSpec } from "./spec-fixtures.js";

function loadsOrReports(text: string): void {
  try {
    loadSpecText(text, "p.yaml");
  } catch (err) {
    assert.ok(err instanceof SpecError, `crashed with ${err instanceof Error ? err.stack : err}`);
    assert.ok(err.issues.length > 0, "a SpecError lists at least one problem");
    for (const issue of err.issues) assert.ok(issue.path.length > 0 && issue.message.length > 0);
  }
}

/** Paths into the base spec (objects and arrays), to replace with random values. */
function paths(value: unknown, prefix: (string | number)[] = []): (string | number)[][] {
  if (value === null || typeof value !== "object") return [prefix];
  const entries = Array.isArray(value) ? value.map((v, i) => [i, v] as const) : Object.entries(value);
  return [prefix, ...entries.flatMap(([k, v]) => paths(v, [...prefix, k]))];
}

function setAt(root: any, path: (string | number)[], value: unknown): any {
  if (path.length === 0) return value;
  let node = root;
  for (const key of path.slice(0, -1)) node = node[key];
  node[path[path.length - 1] as string | number] = value;
  return root;
}

const anyValue = fc.oneof(
  fc.constant(null),
  fc.boolean(),
  fc.integer({ min: -1, max: 70000 }),
  fc.double(),
  fc.string(),
  fc.constantFrom("192.168.61.100", "10.0.0.0/8", "::1", "fd00::/64", "cp1", "", "controlplane", "edge"),
  fc.array(fc.string(), { maxLength: 3 }),
  fc.dictionary(fc.string(), fc.string(), { maxKeys: 3 }),
);

describe("spec loader under random input", () => {
  it("never crashes on random text", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), loadsOrReports), { numRuns: 400 });
  });

  it("never crashes on random YAML-ish text", () => {
    const token = fc.constantFrom(
      "a: ",
      "- ",
      "{",
      "}",
      "[",
      "]",
      "\n",
      "  ",
      "&x ",
      "*x",
      "!!str ",
      '"',
      "'",
      ": ",
      "#",
      "kind: Cluster",
    );
    fc.assert(
      fc.property(fc.array(token, { maxLength: 40 }), (t) => loadsOrReports(t.join(""))),
      { numRuns: 400 },
    );
  });

  it("never crashes when any part of a valid spec is replaced by a random value", () => {
    const all = paths(baseSpec());
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...all), anyValue), { minLength: 1, maxLength: 4 }),
        (edits) => {
          let spec = baseSpec();
          for (const [path, value] of edits) {
            try {
              spec = setAt(spec, path, value);
            } catch {
              // an earlier edit removed the parent: skip this one
            }
          }
          loadsOrReports(stringify(spec));
        },
      ),
      { numRuns: 600 },
    );
  });

  it("never crashes on random hosts", () => {
    const host = fc.record({
      name: fc.constantFrom("cp1", "cp2", "w1", "e1", "X"),
      address: fc.constantFrom("192.168.61.11", "192.168.61.12", "192.168.61.100", "10.1.1.1", "::1"),
      roles: fc.subarray(["controlplane", "etcd", "worker", "edge"]),
    });
    fc.assert(
      fc.property(fc.array(host, { maxLength: 6 }), (hosts) => {
        const spec = baseSpec();
        spec.spec.hosts = hosts;
        loadsOrReports(stringify(spec));
      }),
      { numRuns: 400 },
    );
  });
});
