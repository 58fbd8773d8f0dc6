/** Reaching lab hosts the way an operator would: OpenSSH with the lab's key and its pinned host keys. */
import { connect } from "node:net";
import { join } from "node:path";
import { type RunResult, tryRun } from "../core/exec.js";
import { waitFor } from "../core/wait.js";

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
  return tryRun("ssh", [...sshArgs(dir, address), command], { timeout: timeoutMs });
}

/** Resolves once `address:22` answers with an SSH banner, or rejects after `timeoutMs`. */
export async function waitForSsh(address: string, timeoutMs: number): Promise<void> {
  const banner = () =>
    new Promise<boolean>((resolve) => {
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
  if (!(await waitFor(banner, timeoutMs, 200)))
    throw new Error(`no SSH on ${address}:22 within ${Math.round(timeoutMs / 1000)} s`);
}
