/** Reaching lab hosts the way an operator would: OpenSSH with the lab's key and its pinned host keys. */
import { spawnSync } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import type { RunResult } from "../core/exec.js";

/** Arguments for `ssh` to `address` with the lab's key and known_hosts (strict checking). */
export function sshArgs(dir: string, address: string, extra: readonly string[] = []): string[] {
  return [
    "-i",
    join(dir, "id_ed25519"),
    "-o",
    `UserKnownHostsFile=${join(dir, "known_hosts")}`,
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    "BatchMode=yes",
    "-o",
    "ConnectTimeout=5",
    "-o",
    "LogLevel=ERROR",
    ...extra,
    `root@${address}`,
  ];
}

/** Runs `command` on the host over SSH. */
export function sshRun(dir: string, address: string, command: string, timeoutMs = 60_000): RunResult {
  const r = spawnSync("ssh", [...sshArgs(dir, address), command], { encoding: "utf8", timeout: timeoutMs });
  return {
    code: r.status ?? 255,
    stdout: r.stdout ?? "",
    stderr: r.stderr ?? (r.error ? String(r.error) : ""),
  };
}

/** Resolves once `address:22` answers with an SSH banner, or rejects after `timeoutMs`. */
export async function waitForSsh(address: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: address, port: 22, timeout: 1000 });
      s.once("data", (d) => {
        s.destroy();
        resolve(d.toString().startsWith("SSH-"));
      });
      s.once("error", () => resolve(false));
      s.once("timeout", () => {
        s.destroy();
        resolve(false);
      });
    });
    if (ok) return;
    if (Date.now() > deadline)
      throw new Error(`no SSH on ${address}:22 within ${Math.round(timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
