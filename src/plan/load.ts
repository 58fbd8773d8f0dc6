/**
 * Loading a cluster spec for every command: the spec's own checks
 * (spec/load.ts) and the topology checks that need to know what each host
 * service listens on (services/ports.ts), reported together.
 */

import { portsFree } from "../services/ports.js";
import { type LoadedSpec, loadSpec, loadSpecText } from "../spec/load.js";
import { SPEC_RULES } from "../spec/rules.js";

const RULES = [...SPEC_RULES, portsFree];

/** Reads, checks and defaults the spec in `file`; a SpecError lists every problem. */
export const loadCluster = (file: string): LoadedSpec => loadSpec(file, RULES);

/** The same for spec text; `file` names it in messages. */
export const loadClusterText = (text: string, file: string): LoadedSpec => loadSpecText(text, file, RULES);
