/**
 * Many read-only checks on one host in one round trip: each command runs at
 * once in the background under `timeout`, its output kept in a file of its
 * own, and the results come back base64-framed in one output. One SSH
 * channel per host however many checks (sshd allows ten sessions per
 * connection), and the slowest check bounds the round, not their sum.
 */
import { shq } from "../core/shell.js";
import type { Transport } from "./transport.js";

/** One check's outcome: exit code 124 when it timed out, 255 when the round itself failed. */
export interface ProbeResult {
  readonly code: number;
  readonly stdout: string;
}

/** The script that runs `probes` (name to command) in parallel, each bounded by `seconds`. */
export function probeScript(probes: ReadonlyMap<string, string>, seconds: number): string {
  const jobs = [...probes.values()].map(
    (command, i) =>
      `(timeout -k 1 ${seconds} sh -c ${shq(command)} >"$d/${i}" 2>/dev/null; echo $? >"$d/${i}.rc") </dev/null &`,
  );
  const emit = [...probes.keys()].map(
    (_, i) => `printf '%s %s ' ${i} "$(cat "$d/${i}.rc")"; base64 -w0 "$d/${i}"; echo`,
  );
  return [`d=$(mktemp -d)`, ...jobs, "wait", ...emit, `rm -rf "$d"`].join("\n");
}

/** Parses what probeScript printed. */
export function parseProbes(names: readonly string[], out: string): Map<string, ProbeResult> {
  const results = new Map<string, ProbeResult>();
  for (const line of out.split("\n")) {
    const [index, code, data = ""] = line.split(" ");
    const name = names[Number(index)];
    if (name === undefined || code === undefined || code === "") continue;
    results.set(name, { code: Number(code), stdout: Buffer.from(data, "base64").toString() });
  }
  return results;
}

/**
 * Runs `probes` on the host at once; a check missing from the answer (the
 * round failed or timed out) is reported with code 255 and what went wrong.
 */
export async function runProbes(
  t: Transport,
  probes: ReadonlyMap<string, string>,
  seconds: number,
): Promise<Map<string, ProbeResult>> {
  const names = [...probes.keys()];
  let results = new Map<string, ProbeResult>();
  let failure = "";
  try {
    const r = await t.exec(probeScript(probes, seconds), { timeoutMs: (seconds + 3) * 1000 });
    results = parseProbes(names, r.stdout);
    failure = r.stderr.trim() || `exit ${r.code}`;
  } catch (err) {
    failure = (err as Error).message;
  }
  for (const name of names) if (!results.has(name)) results.set(name, { code: 255, stdout: failure });
  return results;
}
