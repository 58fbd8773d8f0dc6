/**
 * Spec file -> validated, defaulted model, or one SpecError listing every
 * problem with its path and line:col. Stages: YAML syntax (with positions),
 * schema (zod), defaults, cross-field rules; when the schema fails, the rules
 * still run on the well-formed part (salvage.ts). Nothing but a SpecError or a
 * UsageError (unreadable file) ever escapes; a property test holds us to it.
 */
import { readFileSync } from "node:fs";
import { type Document, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument } from "yaml";
import type { z } from "zod";
import { SpecError, type SpecIssue, UsageError } from "../core/errors.js";
import { applyDefaults, type Cluster } from "./defaults.js";
import { checkRules, type Finding, type Rule, SPEC_RULES, type SpecPath } from "./rules.js";
import { salvage } from "./salvage.js";
import { ClusterSpecSchema } from "./schema.js";

/** A spec that passed every check, with the warnings it still has. */
export interface LoadedSpec {
  readonly file: string;
  readonly cluster: Cluster;
  readonly warnings: readonly SpecIssue[];
}

/** Formats a path as users write it: `spec.hosts[1].address`. */
export function formatPath(path: SpecPath): string {
  return path.reduce<string>(
    (acc, key) => (typeof key === "number" ? `${acc}[${key}]` : acc ? `${acc}.${key}` : key),
    "",
  );
}

/** Finds the node at `path`, or the deepest ancestor that exists; `key` selects a map key itself. */
function locate(doc: Document, path: SpecPath, key?: string): number | undefined {
  let node: unknown = doc.contents;
  let offset = (doc.contents?.range?.[0] as number | undefined) ?? undefined;
  const steps = key === undefined ? path : [...path, key];
  for (const [i, step] of steps.entries()) {
    let next: unknown;
    if (isMap(node)) {
      const pair = node.items.find(
        (p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(step),
      );
      if (!pair) break;
      const wantKey = key !== undefined && i === steps.length - 1;
      const target = wantKey || pair.value == null ? pair.key : pair.value;
      offset = (target as { range?: [number] }).range?.[0] ?? offset;
      next = pair.value;
    } else if (isSeq(node) && typeof step === "number") {
      next = node.items[step];
      if (next === undefined) break;
      offset = (next as { range?: [number] }).range?.[0] ?? offset;
    } else break;
    node = next;
  }
  return offset;
}

function valueAt(data: unknown, path: readonly PropertyKey[]): unknown {
  let v = data;
  for (const k of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[k];
  }
  return v;
}

/** One zod issue -> one or more spec issues (one per unknown key). */
function fromZod(
  issue: z.core.$ZodIssue,
  data: unknown,
): { path: SpecPath; key?: string; message: string }[] {
  const path = issue.path.filter((k): k is string | number => typeof k !== "symbol");
  if (issue.code === "unrecognized_keys") {
    return issue.keys.map((key) => ({
      path: [...path, key],
      key,
      message: `unknown field "${key}"; check its spelling and indentation`,
    }));
  }
  const value = valueAt(data, path);
  if (issue.code === "invalid_type" && value == null) {
    if (path.length === 0)
      return [{ path, message: "the file is empty: write a Cluster spec (`kubeha init` makes one)" }];
    const field = String(path[path.length - 1]);
    return [
      {
        path,
        message: value === undefined ? `required field "${field}" is missing` : `"${field}" has no value`,
      },
    ];
  }
  if (issue.code === "invalid_key" || issue.code === "invalid_element") {
    return [{ path, message: issue.issues[0]?.message ?? issue.message }];
  }
  return [{ path, message: issue.message }];
}

/** Loads a spec from text; `file` names it in messages; `rules` are the cross-field checks to run. */
export function loadSpecText(text: string, file: string, rules: readonly Rule[] = SPEC_RULES): LoadedSpec {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: true, uniqueKeys: true, strict: true });
  const at = (offset: number | undefined) => {
    if (offset === undefined) return {};
    const { line, col } = lineCounter.linePos(offset);
    return { line, col };
  };

  if (doc.errors.length > 0) {
    const issues: SpecIssue[] = doc.errors.map((e) => ({
      severity: "error",
      path: "(yaml)",
      message: (e.message.split("\n")[0] ?? e.message).replace(/ at line \d+, column \d+:?$/, ""),
      ...(e.linePos && { line: e.linePos[0].line, col: e.linePos[0].col }),
    }));
    throw new SpecError(file, issues, "the file is not valid YAML: fix the syntax first");
  }

  const positioned = (f: Finding): SpecIssue => ({
    severity: f.severity,
    path: formatPath(f.path),
    message: f.message,
    ...at(locate(doc, f.path)),
  });

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new SpecError(file, [{ severity: "error", path: "(yaml)", message }]);
  }

  const parsed = ClusterSpecSchema.safeParse(data);
  if (!parsed.success) {
    const issues: SpecIssue[] = parsed.error.issues.flatMap((issue) =>
      fromZod(issue, data).map(({ path, key, message }) => ({
        severity: "error" as const,
        path: formatPath(path) || "(document)",
        message,
        ...at(locate(doc, key === undefined ? path : path.slice(0, -1), key)),
      })),
    );
    // the rules still run on what is well-formed, so one run reports every problem
    const kept = salvage(data);
    const findings = kept
      ? checkRules(applyDefaults(kept.input, kept.hostIndex), rules, kept.malformed).map(positioned)
      : [];
    throw new SpecError(file, sortByPosition([...issues, ...findings]));
  }

  const cluster = applyDefaults(parsed.data);
  const sorted = sortByPosition(checkRules(cluster, rules).map(positioned));
  if (sorted.some((f) => f.severity === "error")) throw new SpecError(file, sorted);
  return { file, cluster, warnings: sorted };
}

function sortByPosition(issues: SpecIssue[]): SpecIssue[] {
  return issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0));
}

/** Reads and loads a spec file. */
export function loadSpec(file: string, rules: readonly Rule[] = SPEC_RULES): LoadedSpec {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    const why =
      code === "ENOENT" ? "no such file" : code === "EISDIR" ? "it is a directory" : String(code ?? cause);
    throw new UsageError(`cannot read spec ${file}: ${why}`, {
      cause,
      hint: "pass the cluster spec with -f FILE; `kubeha init` writes an example",
    });
  }
  return loadSpecText(text, file, rules);
}
