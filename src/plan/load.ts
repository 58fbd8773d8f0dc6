/**
 * Loading a cluster spec for every command: the spec's own checks
 * (spec/load.ts) and the topology checks that need to know what each host
 * service listens on (services/ports.ts), reported together. Checks that
 * need the addresses of hosts named by DNS run again once `kubeha up` has
 * resolved them (checkResolved).
 */
import { SpecError } from "../core/errors.js";
import { portsFree } from "../services/ports.js";
import type { Cluster } from "../spec/defaults.js";
import { formatPath, type LoadedSpec, loadSpec, loadSpecText } from "../spec/load.js";
import { checkRules, SPEC_RULES } from "../spec/rules.js";

const RULES = [...SPEC_RULES, portsFree];

/** Reads, checks and defaults the spec in `file`; a SpecError lists every problem. */
export const loadCluster = (file: string): LoadedSpec => loadSpec(file, RULES);

/** The same for spec text; `file` names it in messages. */
export const loadClusterText = (text: string, file: string): LoadedSpec => loadSpecText(text, file, RULES);

/** Runs every check again on `cluster` with its host names resolved; a SpecError lists what now fails. */
export function checkResolved(cluster: Cluster, file: string): void {
  const errors = checkRules(cluster, RULES).filter((f) => f.severity === "error");
  if (errors.length === 0) return;
  throw new SpecError(
    file,
    errors.map((f) => ({ severity: f.severity, path: formatPath(f.path), message: f.message })),
    "the addresses the host names resolved to break the spec: fix the names (DNS, /etc/hosts) or the spec",
  );
}
