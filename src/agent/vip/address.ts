/**
 * The VIP on a host interface, through iproute2 and iputils arping: a /32
 * with a kernel lifetime, removed, probed for another holder (ARP duplicate
 * address detection) and announced (gratuitous ARP).
 */
import { execFile, spawn } from "node:child_process";

/** What the VIP manager does to the host's network; the lab uses `ip` and `arping`, tests a recorder. */
export interface AddressOps {
  /** Adds the address, or refreshes its kernel lifetime when present. */
  hold(lifetimeSeconds: number): Promise<void>;
  /** Removes the address; fine when it is not there. */
  release(): Promise<void>;
  /** Whether another machine answers ARP for the address. */
  claimedElsewhere(): Promise<boolean>;
  /** Gratuitous ARP, so neighbours move the address to this host's MAC. */
  announce(): void;
}

const run = (cmd: string, args: readonly string[]) =>
  new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(cmd, args, { timeout: 2000 }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === "number" ? err.code : 1) : 0, stdout, stderr }),
    ),
  );

/** The interface that carries `address` (the host's own), from `ip -o addr`. */
export async function interfaceOf(address: string): Promise<string> {
  const out = (await run("ip", ["-o", "addr", "show"])).stdout;
  for (const line of out.split("\n")) {
    const [, dev, , cidr] = line.split(/\s+/);
    if (dev && cidr?.split("/")[0] === address) return dev.replace(/@.*$/, "");
  }
  throw new Error(`no interface carries the host address ${address}`);
}

/** How long a duplicate-address probe waits for an answer; on a LAN one comes in well under a millisecond. */
const PROBE_WAIT_MS = 50;

/** The real thing: `ip addr` and `arping` on interface `dev`. */
export function ipAddressOps(vip: string, dev: string): AddressOps {
  const prefix = `${vip}/32`;
  return {
    async hold(lifetime) {
      const lft = String(lifetime);
      const r = await run("ip", [
        "addr",
        "replace",
        prefix,
        "dev",
        dev,
        "valid_lft",
        lft,
        "preferred_lft",
        lft,
      ]);
      if (r.code !== 0) throw new Error(`ip addr replace ${prefix} dev ${dev}: ${r.stderr.trim()}`);
    },
    async release() {
      const r = await run("ip", ["addr", "del", prefix, "dev", dev]);
      if (r.code !== 0 && !/Cannot assign requested address|Address not found/.test(r.stderr))
        throw new Error(`ip addr del ${prefix} dev ${dev}: ${r.stderr.trim()}`);
    },
    claimedElsewhere() {
      // arping's wait is whole seconds; a reply ends it at once with code 1, silence is cut short here
      return new Promise((resolve) => {
        const p = spawn("arping", ["-q", "-D", "-c", "1", "-w", "1", "-I", dev, vip], { stdio: "ignore" });
        const timer = setTimeout(() => p.kill(), PROBE_WAIT_MS);
        p.once("error", () => resolve(false));
        p.once("exit", (code) => {
          clearTimeout(timer);
          resolve(code === 1);
        });
      });
    },
    announce() {
      const p = spawn("arping", ["-q", "-U", "-c", "1", "-I", dev, vip], { stdio: "ignore" });
      p.once("error", () => {});
      setTimeout(() => p.kill(), 1500).unref();
    },
  };
}
