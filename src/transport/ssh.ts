/**
 * The SSH transport (ssh2, pure JavaScript): one connection per host, one
 * channel per command. Host keys are verified against the pinned ones before
 * any command runs; an unknown host is pinned on first use, a changed key is
 * refused with what to do.
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { Client } from "ssh2";
import { HostError } from "../core/errors.js";
import { shq } from "../core/shell.js";
import type { Host } from "../spec/defaults.js";
import { fingerprint, keyType, pinKey, pinnedKeys } from "./known-hosts.js";
import type { BytesResult, ExecOptions, Transport } from "./transport.js";

export interface SshOptions {
  /** The state directory's known_hosts, where first-use keys are pinned. */
  readonly stateKnownHosts: string;
  readonly connectTimeoutMs?: number;
  /** Told when a key is pinned for the first time. */
  readonly onPinned?: (host: string, fp: string) => void;
}

const expandHome = (p: string) => (p.startsWith("~/") ? `${homedir()}${p.slice(1)}` : p);

/** Opens an SSH connection to `host`, verifying its key. */
export async function connectSsh(host: Host, opts: SshOptions): Promise<Transport> {
  const names = [host.address, host.name];
  const files = [
    ...(host.ssh.knownHostsPath ? [expandHome(host.ssh.knownHostsPath)] : []),
    opts.stateKnownHosts,
  ];
  const pinned = pinnedKeys(files, names);
  let privateKey: Buffer;
  try {
    privateKey = readFileSync(expandHome(host.ssh.keyPath));
  } catch (cause) {
    throw new HostError(
      host.name,
      "connect",
      `cannot read SSH key ${host.ssh.keyPath}: ${(cause as NodeJS.ErrnoException).code}`,
      {
        cause,
        hint: "set ssh.keyPath in the spec to a private key the host accepts",
      },
    );
  }
  let refusal: string | undefined;
  const client = new Client();
  await new Promise<void>((resolve, reject) => {
    client.once("ready", () => {
      client.setNoDelay(true); // small commands back to back: Nagle + delayed ACKs cost ~60 ms per exec
      resolve();
    });
    // `on`, not `once`: ssh2 can emit a second error (a handshake timeout, then the connection lost), which
    // with no listener would be thrown out of the event loop; the promise keeps the first
    client.on("error", (err: Error & { level?: string }) => {
      if (refusal)
        return reject(
          new HostError(host.name, "connect", refusal, {
            hint: `if ${host.name} was reinstalled, remove its old key from ${pinned[0]?.file}`,
          }),
        );
      const why =
        err.level === "client-authentication"
          ? {
              msg: `SSH key refused for ${host.ssh.user}@${host.address}`,
              hint: "put the public key of ssh.keyPath into the host's authorized_keys",
            }
          : {
              msg: `cannot reach ${host.address}:${host.ssh.port}: ${err.message}`,
              hint: "check the host is up and the address and ssh.port in the spec",
            };
      reject(new HostError(host.name, "connect", why.msg, { cause: err, hint: why.hint }));
    });
    client.connect({
      host: host.ip ?? host.address,
      port: host.ssh.port,
      username: host.ssh.user,
      privateKey,
      readyTimeout: opts.connectTimeoutMs ?? 10_000,
      keepaliveInterval: 5000,
      // offer only the key types we have pinned, so a host with several keys cannot look "changed"
      ...(pinned.length > 0 && {
        algorithms: { serverHostKey: [...new Set(pinned.map((p) => p.type))] as never[] },
      }),
      hostVerifier: (blob: Buffer) => {
        if (pinned.length === 0) {
          pinKey(opts.stateKnownHosts, names, blob);
          opts.onPinned?.(host.name, fingerprint(blob));
          return true;
        }
        if (pinned.some((p) => p.type === keyType(blob) && p.key === blob.toString("base64"))) return true;
        const want = pinned.map((p) => fingerprint(Buffer.from(p.key, "base64"))).join(" or ");
        refusal = `host key of ${host.name} (${host.address}) changed: pinned ${want}, offered ${fingerprint(blob)}; refusing to connect`;
        return false;
      },
    });
  });
  const asRoot = host.ssh.user === "root" ? (c: string) => c : (c: string) => `sudo -n sh -c ${shq(c)}`;
  const execBytes = async (command: string, execOpts: ExecOptions = {}) => {
    try {
      return await exec(client, asRoot(command), execOpts);
    } catch (cause) {
      throw new HostError(
        host.name,
        "",
        `SSH connection to ${host.address} failed: ${(cause as Error).message}`,
        {
          cause,
          hint: "check the host is up, then run the command again; it continues where this run stopped",
        },
      );
    }
  };
  return {
    host: host.name,
    execBytes,
    exec: async (command, execOpts) => {
      const r = await execBytes(command, execOpts);
      return { ...r, stdout: r.stdout.toString() };
    },
    close: async () => {
      client.end();
    },
  };
}

function exec(client: Client, command: string, opts: ExecOptions): Promise<BytesResult> {
  return new Promise((resolve, reject) => {
    client.exec(command, (err, stream) => {
      if (err) return reject(err);
      const out: Buffer[] = [];
      const errOut: Buffer[] = [];
      const timer =
        opts.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              stream.close();
              resolve({
                code: 124,
                stdout: Buffer.concat(out),
                stderr: `timed out after ${opts.timeoutMs} ms`,
              });
            }, opts.timeoutMs);
      stream.on("data", (d: Buffer) => out.push(d));
      stream.stderr.on("data", (d: Buffer) => errOut.push(d));
      stream.on("close", (code: number | null) => {
        if (timer) clearTimeout(timer);
        resolve({
          code: code ?? 255,
          stdout: Buffer.concat(out),
          stderr: Buffer.concat(errOut).toString(),
        });
      });
      stream.end(opts.stdin ?? undefined);
    });
  });
}
