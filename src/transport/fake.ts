/**
 * A scripted transport for unit tests of the deploy engine. It keeps a small
 * file system and the systemd and etcd state that facts report, and
 * understands the exact command shapes kubeha's own helpers send (statFiles,
 * writeFile, cat, gatherFacts, systemctl, the etcd marker, owed actions).
 * Script entries come first, so a test can make any command fail; every
 * other command must match a script entry, or it fails loudly so a test
 * cannot pass by accident.
 */
import { createHash } from "node:crypto";
import { gunzipSync } from "node:zlib";
import { ETCD_CLUSTER_MARKER, PENDING_DIR } from "../core/host-paths.js";
import type { BytesResult, ExecOptions, ExecResult, Transport } from "./transport.js";

/** A scripted answer: a pattern and the result (or a function of the command). */
export type Script = readonly [RegExp, Partial<ExecResult> | ((command: string) => Partial<ExecResult>)][];

const ok = (stdout = ""): ExecResult => ({ code: 0, stdout, stderr: "" });

/** An emulated host. */
export class FakeHost implements Transport {
  readonly host: string;
  readonly files = new Map<string, { content: Buffer; mode: number }>();
  /** Every command run, in order. */
  readonly log: string[] = [];
  /** What gatherFacts reads besides units, as its script prints it. */
  facts: Record<string, string> = {
    os: "debian",
    codename: "bookworm",
    arch: "x86_64",
    systemd: "yes",
    data: "no",
    marker: "",
    pending: "",
    installed: "etcd-server etcd-client containerd runc containernetworking-plugins conntrack iptables",
    installable: "",
    swap: "0",
    overlay: "yes",
    brnf: "yes",
    clock: "synced",
  };
  /** systemd units that are active or enabled (others are neither). */
  readonly active = new Set<string>();
  readonly enabled = new Set<string>();
  private readonly script: Script[number][];

  constructor(host: string, script: Script = []) {
    this.host = host;
    this.script = [...script];
  }

  /** From now on, commands matching `pattern` get `answer`. */
  on(pattern: RegExp, answer: Script[number][1]): void {
    this.script.unshift([pattern, answer]);
  }

  /** From now on, commands matching `pattern` fail with `stderr`. */
  failOn(pattern: RegExp, stderr: string, code = 1): void {
    this.on(pattern, { code, stderr });
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    this.log.push(command);
    for (const [pattern, answer] of this.script) {
      if (pattern.test(command)) {
        const r = typeof answer === "function" ? answer(command) : answer;
        return { code: r.code ?? 0, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
      }
    }
    if (command.startsWith("set -- ")) return ok(this.stat(command));
    const write = command.match(/chmod (\d+) '([^']+)\.kubeha-tmp'; mv -f/);
    if (write) {
      const body = Buffer.from(opts.stdin ?? "");
      const content = command.includes("gzip -dc") ? gunzipSync(body) : body;
      this.files.set(write[2] ?? "", { content, mode: Number.parseInt(write[1] ?? "644", 8) });
      return ok();
    }
    if (command.startsWith(". /etc/os-release")) return ok(this.factLines(command));
    const pending = command.match(new RegExp(`^mkdir -p -m 0700 ${PENDING_DIR} && touch (.*)$`));
    if (pending || command.startsWith(`rm -f ${PENDING_DIR}/`)) {
      const owed = new Set((this.facts.pending ?? "").split(" ").filter(Boolean));
      const names = (pending?.[1] ?? command.slice("rm -f ".length))
        .split(" ")
        .map((p) => p.split("/").at(-1) ?? "");
      for (const n of names) pending ? owed.add(n) : owed.delete(n);
      this.facts.pending = [...owed].join(" ");
      return ok();
    }
    if (/^systemctl /.test(command)) return ok(this.systemctl(command));
    const marker = command.match(new RegExp(`echo (\\w+) > ${ETCD_CLUSTER_MARKER.replace(/\./g, "\\.")}`));
    if (marker) {
      this.facts.marker = marker[1] ?? "";
      return ok();
    }
    return { code: 127, stdout: "", stderr: `fake host: no script for: ${command.slice(0, 200)}` };
  }

  /** `cat 'PATH'` gives a file's bytes; anything else is exec's text as bytes. */
  async execBytes(command: string, opts: ExecOptions = {}): Promise<BytesResult> {
    const cat = command.match(/^cat '([^']+)'$/);
    if (cat) {
      this.log.push(command);
      const f = this.files.get(cat[1] ?? "");
      return f
        ? { code: 0, stdout: f.content, stderr: "" }
        : { code: 1, stdout: Buffer.alloc(0), stderr: `cat: ${cat[1]}: No such file or directory` };
    }
    const r = await this.exec(command, opts);
    return { ...r, stdout: Buffer.from(r.stdout) };
  }

  async close(): Promise<void> {}

  /** The facts script's output: the facts, each unit it asks about as `systemctl show` does, then the files'. */
  private factLines(command: string): string {
    const units = [
      ...(command.match(/systemctl show [^\n]* -- (.*) \|/)?.[1] ?? "").matchAll(/'([^']*)'/g),
    ].map((m) => m[1] ?? "");
    const lines = Object.entries(this.facts).map(([k, v]) => `${k}=${v}`);
    for (const u of units) {
      lines.push(`unit.Id=${u.includes(".") ? u : `${u}.service`}`);
      lines.push(`unit.ActiveState=${this.active.has(u) ? "active" : "inactive"}`);
      lines.push(`unit.UnitFileState=${this.enabled.has(u) ? "enabled" : "disabled"}`);
      lines.push("");
    }
    const files = command.indexOf("\nset -- ");
    if (files >= 0) lines.push("--files--", this.stat(command.slice(files + 1)));
    return lines.join("\n");
  }

  /** statFiles' script: its arguments are pairs of a path and where its digest would be recorded; every file is hashed. */
  private stat(command: string): string {
    const args = [...command.slice(0, command.indexOf("; while")).matchAll(/'([^']*)'/g)].map(
      (m) => m[1] ?? "",
    );
    const paths = args.filter((_, i) => i % 2 === 0);
    return paths
      .flatMap((p) => {
        const f = this.files.get(p);
        const sha = f && createHash("sha256").update(f.content).digest("hex");
        return f ? [`S ${f.mode.toString(8)} ${f.content.length} 0 0 ${p}`, `H ${sha}  ${p}`] : [];
      })
      .join("\n");
  }

  /** Applies systemctl verbs: enable makes a unit enabled, start/restart/reload active; etcd then has data. */
  private systemctl(command: string): string {
    for (const m of command.matchAll(/systemctl (enable|start|restart|reload)(?: --no-block)? ([\w.-]+)/g)) {
      const unit = m[2] ?? "";
      if (m[1] === "enable") this.enabled.add(unit);
      else this.active.add(unit);
      if (unit === "etcd" && m[1] !== "enable") this.facts.data = "yes";
    }
    return "";
  }
}
