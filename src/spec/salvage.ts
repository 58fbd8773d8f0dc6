/**
 * The well-formed part of a spec that failed its schema, so that the
 * cross-field rules still run and one run reports every problem. A host with
 * any schema problem is left out whole (the others keep their positions);
 * any other malformed value is taken out (an array as a whole), so that its
 * default applies, or, where the schema needs something, replaced by a
 * neutral stand-in. Everything taken out is listed, and the rules that read
 * it are skipped (spec/rules.ts), so nothing is reported about a value the
 * user has not yet written correctly.
 */
import type { z } from "zod";
import type { SpecPath } from "./rules.js";
import { type ClusterSpecInput, ClusterSpecSchema } from "./schema.js";

/** What could be kept, where each kept host stands in the spec, and what was taken out. */
export interface Salvaged {
  readonly input: ClusterSpecInput;
  readonly hostIndex: readonly number[];
  readonly malformed: readonly SpecPath[];
}

/** Stand-ins for what the schema requires, read by no rule that runs once they are marked malformed. */
const STAND_INS: readonly [SpecPath, unknown][] = [
  [["apiVersion"], "kubeha/v1alpha1"],
  [["kind"], "Cluster"],
  [["metadata"], { name: "malformed" }],
  [["metadata", "name"], "malformed"],
  [["spec", "controlPlane"], { endpoint: { mode: "external", address: "malformed.invalid" } }],
  [["spec", "controlPlane", "endpoint"], { mode: "external", address: "malformed.invalid" }],
];

type Tree = Record<string | number, unknown>;
const isTree = (v: unknown): v is Tree => typeof v === "object" && v !== null;
const same = (a: SpecPath, b: SpecPath) => a.length === b.length && a.every((k, i) => k === b[i]);

/** Takes out (or stands in for) the value at `path`; false when there is nothing left to take out. */
function takeOut(root: Tree, path: SpecPath, malformed: SpecPath[]): boolean {
  let p = path;
  // an array element goes with its array; a value taken out before and still wanted goes with its parent
  if (typeof p.at(-1) === "number") p = p.slice(0, -1);
  while (p.length > 0 && malformed.some((m) => same(m, p)) && !STAND_INS.some(([s]) => same(s, p)))
    p = p.slice(0, -1);
  if (p.length < 2 && !STAND_INS.some(([s]) => same(s, p))) return false;
  let parent: Tree = root;
  for (const key of p.slice(0, -1)) {
    const next = parent[key];
    if (!isTree(next)) return false;
    parent = next;
  }
  const last = p.at(-1) as string | number;
  const standIn = STAND_INS.find(([s]) => same(s, p))?.[1];
  if (standIn !== undefined && JSON.stringify(parent[last]) === JSON.stringify(standIn)) return false;
  if (standIn !== undefined) parent[last] = structuredClone(standIn);
  else delete parent[last];
  if (!malformed.some((m) => same(m, p))) malformed.push(p);
  return true;
}

/** The well-formed part of `data`, or undefined when too little of it is well-formed to check anything. */
export function salvage(data: unknown): Salvaged | undefined {
  if (!isTree(data)) return undefined;
  const work = structuredClone(data);
  const spec = isTree(work.spec) ? work.spec : undefined;
  const hosts = Array.isArray(spec?.hosts) ? (spec.hosts as unknown[]) : undefined;
  const dropped = new Set<number>();
  const malformed: SpecPath[] = [];
  for (let round = 0; round < 25; round++) {
    const kept = (hosts ?? []).map((_, i) => i).filter((i) => !dropped.has(i));
    const candidate =
      hosts && isTree(work.spec)
        ? { ...work, spec: { ...work.spec, hosts: kept.map((i) => hosts[i]) } }
        : work;
    const parsed = ClusterSpecSchema.safeParse(candidate);
    if (parsed.success)
      return kept.length > 0 ? { input: parsed.data, hostIndex: kept, malformed } : undefined;
    let progress = false;
    for (const issue of parsed.error.issues as z.core.$ZodIssue[]) {
      const path = issue.path.filter((k): k is string | number => typeof k !== "symbol");
      const host =
        path[0] === "spec" && path[1] === "hosts" && typeof path[2] === "number" ? kept[path[2]] : undefined;
      if (hosts && host !== undefined) {
        if (!dropped.has(host)) {
          dropped.add(host);
          malformed.push(["spec", "hosts", host]);
          progress = true;
        }
        continue;
      }
      const targets = issue.code === "unrecognized_keys" ? issue.keys.map((k) => [...path, k]) : [path];
      for (const t of targets) if (takeOut(work, t, malformed)) progress = true;
    }
    if (!progress) return undefined;
  }
  return undefined;
}
