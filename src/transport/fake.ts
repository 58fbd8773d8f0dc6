/**
 * A scripted transport for unit tests of the deploy engine. It keeps a small
 * file system and understands the exact command shapes kubeha's own helpers
 * send (statFiles, writeFile, gatherFacts); every other command must match a
 * script entry, or it fails loudly so a test cannot pass by accident.
 */
import { createHash } from "node:crypto";
import type { ExecOptions, ExecResult, Transport } from "./transport.js";

/** A scripted answer: a pattern and the result (or a function of the command). */
export type Script = readonly [RegExp, Partial<ExecResult> | ((command: string) => Partial<ExecResult>)][];

/** An emulated host. */
export class FakeHost implements Transport {
  readonly files = new Map<string, { content: Buffer; mode: number }>();
  /** Every command run, in order. */
  readonly log: string[] = [];
  facts: Record<string, string> = {
    os: "debian",
    codename: "bookworm",
    arch: "x86_64",
    systemd: "yes",
    etcd: "yes",
    active: "inactive",
    enabled: "disabled",
    data: "no",
    marker: "",
  };
  private readonly script: Script;

  constructor(script: Script = []) {
    this.script = script;
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.log.push(command);
    const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });
    if (command.startsWith("for p in ")) {
      const paths = [...command.slice(0, command.indexOf("; do")).matchAll(/'([^']*)'/g)].map(
        (m) => m[1] ?? "",
      );
      return ok(
        paths
          .map((p) => {
            const f = this.files.get(p);
            return f
              ? `${createHash("sha256").update(f.content).digest("hex")} ${f.mode.toString(8)} ${p}`
              : `- - ${p}`;
          })
          .join("\n"),
      );
    }
    const write = command.match(/chmod (\d+) '([^']+)\.kubeha-tmp'; mv -f/);
    if (write) {
      this.files.set(write[2] ?? "", {
        content: Buffer.from(opts.stdin ?? ""),
        mode: Number.parseInt(write[1] ?? "644", 8),
      });
      return ok();
    }
    if (command.startsWith(". /etc/os-release"))
      return ok(
        Object.entries(this.facts)
          .map(([k, v]) => `${k}=${v}`)
          .join("\n"),
      );
    for (const [pattern, answer] of this.script) {
      if (pattern.test(command)) {
        const r = typeof answer === "function" ? answer(command) : answer;
        return { code: r.code ?? 0, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
      }
    }
    return { code: 127, stdout: "", stderr: `fake host: no script for: ${command.slice(0, 200)}` };
  }

  async close(): Promise<void> {}
}
