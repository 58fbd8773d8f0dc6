/** The SSH transport's connect path against a peer that never completes a handshake (no sshd needed). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { HostError } from "../core/errors.js";
import { sleep } from "../core/wait.js";
import type { Host } from "../spec/defaults.js";
import { connectSsh } from "./ssh.js";

describe("ssh connect", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-ssh-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "id")]);

  it("reports a host that accepts but never shakes hands as unreachable, and survives the errors after", async () => {
    const sockets: Socket[] = [];
    // accepts, says nothing, and closes each connection 300 ms later: ssh2 times out, then loses the connection
    const server = createServer((s) => {
      sockets.push(s);
      setTimeout(() => s.destroy(), 300);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const uncaught: Error[] = [];
    const onUncaught = (err: Error) => uncaught.push(err);
    process.prependListener("uncaughtException", onUncaught);
    try {
      const host = {
        name: "h1",
        address: "127.0.0.1",
        ssh: { port, user: "root", keyPath: join(dir, "id") },
      } as unknown as Host;
      await assert.rejects(
        connectSsh(host, { stateKnownHosts: join(dir, "known_hosts"), connectTimeoutMs: 100 }),
        (err: unknown) =>
          err instanceof HostError &&
          /cannot reach 127\.0\.0\.1:\d+: Timed out while waiting for handshake/.test(err.message),
      );
      await sleep(500); // the peer closes now: a second error from ssh2 must not escape
      assert.deepEqual(
        uncaught.map((e) => e.message),
        [],
      );
    } finally {
      process.removeListener("uncaughtException", onUncaught);
      for (const s of sockets) s.destroy();
      server.close();
    }
  });
});
