/**
 * The command lines of Kubernetes components, checked against the reference
 * data of their minor version (reference/, see scripts/reference-data.mjs):
 * kubeha renders only flags the version accepts and has not deprecated, a
 * spec's extra arguments are checked the same way, and the lab's stand-ins
 * parse their command line as strictly as the real binaries (pflag) do.
 */
import { REFERENCE } from "./reference-data.js";

/** The Kubernetes components whose flags kubeha knows. */
export type Component =
  | "kube-apiserver"
  | "kube-controller-manager"
  | "kube-scheduler"
  | "kubelet"
  | "kube-proxy";

/** One flag, rendered `--name=value`. */
export type Flag = readonly [name: string, value: string];

/** The minor versions kubeha has reference data for: "1.34". */
export const SUPPORTED_MINORS: readonly string[] = Object.keys(REFERENCE).sort();

/** "v1.34.2" -> "1.34". */
export const minorOf = (version: string) => version.replace(/^v/, "").split(".").slice(0, 2).join(".");

/** Whether kubeha has reference data for `version`. */
export const isSupported = (version: string) => SUPPORTED_MINORS.includes(minorOf(version));

function reference(version: string) {
  const ref = REFERENCE[minorOf(version)];
  if (!ref) {
    throw new Error(
      `no reference data for Kubernetes ${version}; supported: ${SUPPORTED_MINORS.map((m) => `v${m}`).join(", ")}`,
    );
  }
  return ref;
}

/** Every flag `component` accepts in `version`: the listed ones and the hidden deprecated ones (accepted with a warning). */
function accepted(component: Component, version: string): Set<string> {
  const ref = reference(version);
  const hidden = Object.keys(ref.deprecated[component] ?? {}).filter((f) => !f.includes("="));
  return new Set([...(ref.flags[component] ?? []), ...hidden]);
}

/** What is wrong with one flag for a version, or undefined. */
export function flagProblem(component: Component, version: string, name: string, value?: string) {
  const ref = reference(version);
  const newer = ref.newer[component]?.[name];
  if (newer !== undefined) return `--${name} is not accepted before ${newer.split(" ")[0]}`;
  if (!accepted(component, version).has(name))
    return `--${name} is not a flag of ${component} v${minorOf(version)}`;
  const deprecated = ref.deprecated[component] ?? {};
  const ofValue = deprecated[`${name}=${value}`];
  if (ofValue !== undefined) return `--${name}=${value} is deprecated in v${minorOf(version)}: ${ofValue}`;
  if (deprecated[name] !== undefined)
    return `--${name} is deprecated in v${minorOf(version)}: ${deprecated[name]}`;
  return undefined;
}

/** Every problem of a command line for a version: unknown, later or deprecated flags, and flags given twice. */
export function flagProblems(component: Component, version: string, flags: readonly Flag[]): string[] {
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const [name, value] of flags) {
    if (seen.has(name)) problems.push(`--${name} is given twice`);
    seen.add(name);
    const p = flagProblem(component, version, name, value);
    if (p) problems.push(p);
  }
  return problems;
}

/** `--name=value` arguments, in order. */
/** kubeha's flags, then the spec's extraArgs over them (a name replaces kubeha's value), sorted by name. */
export function withExtra(flags: readonly Flag[], extra: Readonly<Record<string, string>>): Flag[] {
  const byName = new Map(flags);
  for (const [name, value] of Object.entries(extra)) byName.set(name, value);
  return [...byName].sort(([a], [b]) => a.localeCompare(b));
}

export const toArgs = (flags: readonly Flag[]) => flags.map(([n, v]) => `--${n}=${v}`);

/**
 * Parses a command line the way the real binaries' pflag does for the
 * forms kubeha renders (`--name=value`, a bare `--name` for a boolean),
 * refusing what they refuse, with their message: an unknown flag, a
 * positional argument.
 */
export function parseArgs(
  component: Component,
  version: string,
  argv: readonly string[],
): Map<string, string> {
  const known = accepted(component, version);
  const out = new Map<string, string>();
  for (const arg of argv) {
    const m = /^--([a-z0-9][a-z0-9.-]*)(?:=(.*))?$/s.exec(arg);
    if (!m) throw new Error(`${component} does not take any arguments, got ["${arg}"]`);
    const [, name = "", value = "true"] = m;
    if (!known.has(name)) throw new Error(`unknown flag: --${name}`);
    out.set(name, value);
  }
  return out;
}

/** The config file kinds kubeha checks field by field. */
export type ConfigKind = "KubeletConfiguration" | "KubeProxyConfiguration";

/**
 * Fields of a config file of `kind` that `version` does not know, as the
 * real binaries' strict decoding reports them ("unknown field \"x.y\""); the
 * top level and every nested struct the reference lists are checked.
 */
export function fieldProblems(kind: ConfigKind, version: string, config: unknown): string[] {
  const known = reference(version).fields[kind] ?? {};
  const problems: string[] = [];
  const walk = (value: unknown, path: string) => {
    const names = known[path];
    if (!names || typeof value !== "object" || value === null || Array.isArray(value)) return;
    for (const [key, child] of Object.entries(value)) {
      const at = path ? `${path}.${key}` : key;
      if (!names.includes(key)) problems.push(`unknown field "${at}"`);
      else walk(child, at);
    }
  };
  walk(config, "");
  return problems;
}
