/** Many checks in one round trip, run by a real shell as a host would run them. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { describe, it } from "node:test";
import { runProbes } from "./probes.js";
import type { BytesResult, ExecOptions, Transport } from "./transport.js";

/** A transport to this machine: `sh -c`, as the SSH transport runs commands on a host. */
const local: Transport = {
  host: "local",
  execBytes: (command: string, opts: ExecOptions = {}) =>
    new Promise<BytesResult>((resolve) => {
      const p = spawn("sh", ["-c", command], { stdio: ["ignore", "pipe", "pipe"] });
      const out: Buffer[] = [];
      let err = "";
      p.stdout.on("data", (d: Buffer) => out.push(d));
      p.stderr.on("data", (d: Buffer) => {
        err += d;
      });
      const timer = opts.timeoutMs ? setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs) : undefined;
      p.on("close", (code) => {
        clearTimeout(timer);
        resolve({ code: code ?? 124, stdout: Buffer.concat(out), stderr: err });
      });
    }),
  exec: async (command, opts) => {
    const r = await local.execBytes(command, opts);
    return { ...r, stdout: r.stdout.toString() };
  },
  close: async () => {},
};

describe("probes", () => {
  it("runs every check at once, keeps each one's output and exit code, and bounds the slow ones", async () => {
    const t0 = performance.now();
    const r = await runProbes(
      local,
      new Map([
        ["a", "sleep 1; echo 'two words'; printf 'line\\nwith \\047quote\\047'"],
        ["b", "sleep 1; exit 3"],
        ["slow", "sleep 30"],
        ["json", `echo '{"x": [1, 2]}'`],
      ]),
      2,
    );
    const ms = performance.now() - t0;
    assert.ok(
      ms < 2900,
      `the round took ${Math.round(ms)} ms: checks ran one after another or past their bound`,
    );
    assert.deepEqual(r.get("a"), { code: 0, stdout: "two words\nline\nwith 'quote'" });
    assert.deepEqual(r.get("b"), { code: 3, stdout: "" });
    assert.equal(r.get("slow")?.code, 124);
    assert.deepEqual(JSON.parse(r.get("json")?.stdout ?? ""), { x: [1, 2] });
  });

  it("reports every check as failed, with why, when the round itself fails", async () => {
    const broken: Transport = {
      ...local,
      exec: async () => {
        throw new Error("SSH connection to 192.0.2.1 failed: read ECONNRESET");
      },
    };
    const r = await runProbes(
      broken,
      new Map([
        ["a", "true"],
        ["b", "true"],
      ]),
      1,
    );
    assert.deepEqual(
      [...r.values()],
      [
        { code: 255, stdout: "SSH connection to 192.0.2.1 failed: read ECONNRESET" },
        { code: 255, stdout: "SSH connection to 192.0.2.1 failed: read ECONNRESET" },
      ],
    );
  });
});
