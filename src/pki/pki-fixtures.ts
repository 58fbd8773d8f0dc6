/** Helpers for PKI tests: a scratch state directory, openssl, and file snapshots. */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A fresh temporary directory, removed when the test process exits. */
export function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `kubeha-${prefix}-`));
  process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Runs openssl with `args`; returns stdout, or throws with stderr. */
export function openssl(...args: string[]): string {
  return execFileSync("openssl", args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** The text dump of a PEM certificate. */
export function x509Text(certPem: string, dir: string): string {
  const file = join(dir, `dump-${createHash("sha1").update(certPem).digest("hex")}.crt`);
  writeFileSync(file, certPem);
  return openssl("x509", "-in", file, "-noout", "-text");
}

/** Every file under `dir` with its sha256 and mode. */
export function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(dir, { recursive: true }).map(String).sort()) {
    const path = join(dir, f);
    const st = statSync(path);
    const hash = st.isFile() ? createHash("sha256").update(readFileSync(path)).digest("hex") : "dir";
    out.set(f, `${hash} ${(st.mode & 0o777).toString(8)}`);
  }
  return out;
}

/** Files whose content or mode differs between two snapshots (added, removed or changed). */
export function changedFiles(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = new Set([...before.keys(), ...after.keys()]);
  return [...keys].filter((k) => before.get(k) !== after.get(k)).sort();
}
