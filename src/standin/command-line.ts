/**
 * How a stand-in starts, like the real binary it stands in for: the command
 * line parsed strictly against the version's flag list (an unknown flag or
 * a positional argument exits 1 with the real message), the version from the
 * wrapper kubeha installs at /usr/local/bin/<name> (render/standin.ts).
 */
import { type Component, parseArgs } from "../kubernetes/flags.js";

/** The environment variable naming the version a stand-in stands in for. */
export const STANDIN_VERSION_ENV = "KUBEHA_STANDIN_VERSION";

/** The components the host executable has stand-ins for. */
export const STANDIN_COMPONENTS = [
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
  "kubelet",
  "kube-proxy",
] as const;
export type StandinComponent = (typeof STANDIN_COMPONENTS)[number];

/** A stand-in's parsed command line. */
export interface CommandLine {
  readonly component: StandinComponent;
  readonly version: string;
  readonly flags: ReadonlyMap<string, string>;
}

/** Parses argv for `component`; throws with the real binary's message. */
export function parseCommandLine(
  component: StandinComponent,
  argv: readonly string[],
  env: NodeJS.ProcessEnv,
): CommandLine {
  const version = env[STANDIN_VERSION_ENV];
  if (!version)
    throw new Error(
      `${STANDIN_VERSION_ENV} is not set: run the stand-in through /usr/local/bin/${component}`,
    );
  return { component, version, flags: parseArgs(component as Component, version, argv) };
}

/** A Go duration (`3s`, `1m30s`, `500ms`) in milliseconds. */
export function parseDuration(text: string): number {
  const units: Record<string, number> = {
    ns: 1e-6,
    us: 1e-3,
    µs: 1e-3,
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
  };
  if (text === "0") return 0;
  let total = 0;
  let rest = text;
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/.exec(rest);
    if (!m) throw new Error(`time: invalid duration "${text}"`);
    total += Number(m[1]) * (units[m[2] ?? ""] ?? 0);
    rest = rest.slice(m[0].length);
  }
  return total;
}
