/** Real etcd members on loopback addresses for tests, with the certificates `pki generate` made. */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { generatePki } from "../pki/generate.js";
import type { Cluster } from "../spec/defaults.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";

export const ETCD_BIN = "/usr/bin/etcd";

/** Why etcd tests cannot run here, or undefined. */
export const etcdSkipReason = () =>
  existsSync(ETCD_BIN) ? undefined : "etcd-server not installed (scripts/setup.sh installs it)";

/** A port free on every address given. */
export async function freePort(addresses: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = 20000 + Math.floor(Math.random() * 30000);
    const free = await Promise.all(
      addresses.map(
        (ip) =>
          new Promise<boolean>((resolve) => {
            const s = createServer();
            s.once("error", () => resolve(false));
            s.listen(port, ip, () => s.close(() => resolve(true)));
          }),
      ),
    );
    if (free.every(Boolean)) return port;
  }
  throw new Error("no free port on the loopback member addresses");
}

/** A running test cluster. */
export interface TestEtcd {
  readonly clientUrls: readonly string[];
  /** SIGKILL one member. */
  kill(name: string): void;
  stop(): Promise<void>;
}

/** Starts members (name, loopback ip) with their certificates from `pkiDir`; data under `dataDir`; `onLog` gets their logs. */
export async function startEtcd(
  members: readonly { name: string; ip: string }[],
  pkiDir: string,
  dataDir: string,
  onLog?: (member: string, text: string) => void,
): Promise<TestEtcd> {
  const clientPort = await freePort(members.map((m) => m.ip));
  const peerPort = await freePort(members.map((m) => m.ip));
  const initial = members.map((m) => `${m.name}=https://${m.ip}:${peerPort}`).join(",");
  const procs = new Map<string, ChildProcess>();
  for (const m of members) {
    const f = (file: string) => join(pkiDir, "hosts", m.name, "pki", "etcd", file);
    const proc = spawn(
      ETCD_BIN,
      [
        `--name=${m.name}`,
        `--data-dir=${join(dataDir, m.name)}`,
        `--listen-client-urls=https://${m.ip}:${clientPort}`,
        `--advertise-client-urls=https://${m.ip}:${clientPort}`,
        `--listen-peer-urls=https://${m.ip}:${peerPort}`,
        `--initial-advertise-peer-urls=https://${m.ip}:${peerPort}`,
        `--initial-cluster=${initial}`,
        "--initial-cluster-state=new",
        "--client-cert-auth",
        `--trusted-ca-file=${f("ca.crt")}`,
        `--cert-file=${f("server.crt")}`,
        `--key-file=${f("server.key")}`,
        "--peer-client-cert-auth",
        `--peer-trusted-ca-file=${f("ca.crt")}`,
        `--peer-cert-file=${f("peer.crt")}`,
        `--peer-key-file=${f("peer.key")}`,
        "--heartbeat-interval=50",
        "--election-timeout=500",
      ],
      { stdio: ["ignore", "ignore", onLog ? "pipe" : "ignore"] },
    );
    proc.stderr?.on("data", (chunk: Buffer) => onLog?.(m.name, String(chunk)));
    procs.set(m.name, proc);
  }
  const stopOne = (p: ChildProcess) =>
    new Promise<void>((resolve) => {
      if (p.exitCode !== null || p.signalCode !== null) return resolve();
      p.once("exit", () => resolve());
      p.kill("SIGTERM");
      setTimeout(() => p.kill("SIGKILL"), 5000).unref();
    });
  return {
    clientUrls: members.map((m) => `https://${m.ip}:${clientPort}`),
    kill: (name) => procs.get(name)?.kill("SIGKILL"),
    stop: async () => {
      await Promise.all([...procs.values()].map(stopOne));
    },
  };
}

/**
 * One member "cp1" at loopback `ip`, with the certificates of a one-host
 * cluster generated under `dir`/pki (the host's own under hosts/cp1/pki).
 */
export async function startOneMember(
  ip: string,
  dir: string,
): Promise<{ etcd: TestEtcd; pki: string; cluster: Cluster }> {
  const spec = baseSpec();
  spec.spec.network.hostCidr = "127.0.0.0/24";
  spec.spec.hosts = [{ name: "cp1", address: ip, roles: ["controlplane", "etcd"] }];
  spec.spec.controlPlane.endpoint.vip = "127.0.0.100";
  delete spec.spec.ingress;
  const pki = join(dir, "pki");
  const { cluster } = loadObject(spec);
  await generatePki(cluster, pki);
  return { etcd: await startEtcd([{ name: "cp1", ip }], pki, join(dir, "etcd")), pki, cluster };
}
