/**
 * A scripted transport for unit tests of the deploy engine. It keeps a small
 * file system and the systemd and etcd state that facts report, and
 * understands the exact command shapes kubeha's own helpers send (statFiles,
 * writeFile, gatherFacts, systemctl, the etcd marker); every other command
 * must match a script entry, or it fails loudly so a test cannot pass by accident.
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import type { ExecOptions, ExecResult, Transport } from "./transport.js";

/** A scripted answer: a pattern and the result (or a function of the command). */
export type Script = readonly [RegExp, Partial<ExecResult> | ((command: string) => Partial<ExecResult>)][];

const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });

/** An emulated host. */
export class FakeHost implements Transport {
  readonly files = new Map<string, { content: Buffer; mode: number }>();
  /** Every command run, in order. */
  readonly log: string[] = [];
  /** What gatherFacts reads, as its script prints it. */
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
    "kubeha-agent.active": "inactive",
    "kubeha-agent.enabled": "disabled",
    "kubeha-apiserver-standin.active": "inactive",
    "kubeha-apiserver-standin.enabled": "disabled",
    pending: "",
  };
  private readonly script: Script;

  constructor(script: Script = []) {
    this.script = script;
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.log.push(command);
    if (command.startsWith("for p in ")) return ok(this.stat(command));
    const write = command.match(/chmod (\d+) '([^']+)\.kubeha-tmp'; mv -f/);
    if (write) {
      const body = Buffer.from(opts.stdin ?? "");
      const content = command.includes("gzip -dc") ? gunzipSync(body) : body;
      this.files.set(write[2] ?? "", { content, mode: Number.parseInt(write[1] ?? "644", 8) });
      return ok();
    }
    if (command.startsWith(". /etc/os-release")) {
      return ok(
        Object.entries(this.facts)
          .map(([k, v]) => `${k}=${v}`)
          .join("\n"),
      );
    }
    const pending = command.match(/^mkdir -p -m 0700 \/var\/lib\/kubeha\/pending && touch (.*)$/);
    if (pending || command.startsWith("rm -f /var/lib/kubeha/pending/")) {
      const owed = new Set((this.facts.pending ?? "").split(" ").filter(Boolean));
      const names = (pending?.[1] ?? command.slice("rm -f ".length))
        .split(" ")
        .map((p) => p.split("/").at(-1) ?? "");
      for (const n of names) pending ? owed.add(n) : owed.delete(n);
      this.facts.pending = [...owed].join(" ");
      return ok();
    }
    if (/^systemctl /.test(command)) return ok(this.systemctl(command));
    const marker = command.match(/echo (\w+) > \/var\/lib\/etcd\/kubeha\.cluster/);
    if (marker) {
      this.facts.marker = marker[1] ?? "";
      return ok();
    }
    for (const [pattern, answer] of this.script) {
      if (pattern.test(command)) {
        const r = typeof answer === "function" ? answer(command) : answer;
        return { code: r.code ?? 0, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
      }
    }
    return { code: 127, stdout: "", stderr: `fake host: no script for: ${command.slice(0, 200)}` };
  }

  async close(): Promise<void> {}

  private stat(command: string): string {
    const paths = [...command.slice(0, command.indexOf("; do")).matchAll(/'([^']*)'/g)].map(
      (m) => m[1] ?? "",
    );
    return paths
      .map((p) => {
        const f = this.files.get(p);
        return f
          ? `${createHash("sha256").update(f.content).digest("hex")} ${f.mode.toString(8)} ${p}`
          : `- - ${p}`;
      })
      .join("\n");
  }

  /** Applies systemctl verbs to the facts: enable, start/restart/reload make a unit enabled or active. */
  private systemctl(command: string): string {
    const key = (unit: string, what: "active" | "enabled") => (unit === "etcd" ? what : `${unit}.${what}`);
    for (const m of command.matchAll(/systemctl (enable|start|restart|reload)(?: --no-block)? ([\w-]+)/g)) {
      const unit = m[2] ?? "";
      if (m[1] === "enable") this.facts[key(unit, "enabled")] = "enabled";
      else this.facts[key(unit, "active")] = "active";
      if (unit === "etcd" && m[1] !== "enable") this.facts.data = "yes";
    }
    return "";
  }
}
