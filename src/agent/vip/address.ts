/**
 * The VIP on a host interface, through iproute2 and iputils arping: a /32
 * with a kernel lifetime, removed, probed for another holder (ARP duplicate
 * address detection) and announced (gratuitous ARP).
 */
import { spawn } from "node:child_process";
import { tryRunAsync as run } from "../../core/exec.js";

/** What the VIP manager does to the host's network; the lab uses `ip` and `arping`, tests a recorder. */
export interface AddressOps {
  /** Adds the address, or refreshes its kernel lifetime when present. */
  hold(lifetimeSeconds: number): Promise<void>;
  /** Removes the address; fine when it is not there. */
  release(): Promise<void>;
  /** Whether another machine answers ARP for the address; rejects when no probe could be made. */
  claimedElsewhere(): Promise<boolean>;
  /** Gratuitous ARP, so neighbours move the address to this host's MAC. */
  announce(): void;
}

/** The interface that carries `address` (the host's own), from `ip -o addr`. */
export async function interfaceOf(address: string): Promise<string> {
  const out = (await run("ip", ["-o", "addr", "show"])).stdout;
  for (const line of out.split("\n")) {
    const [, dev, , cidr] = line.split(/\s+/);
    if (dev && cidr?.split("/")[0] === address) return dev.replace(/@.*$/, "");
  }
  throw new Error(`no interface carries the host address ${address}`);
}

/** How long a duplicate-address probe waits for an answer once sent; on a LAN one comes in well under a millisecond. */
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
      // DAD probe (sender 0.0.0.0): the kernel of any host that holds the address answers, frozen agent
      // or not. arping waits whole seconds, so it is interrupted PROBE_WAIT_MS after it says it is probing
      // (its output line-buffered by stdbuf), and its own summary decides: free only when a probe went out
      // and nothing answered. A probe that could not be made is an error, never "free".
      return new Promise((resolve, reject) => {
        const p = spawn("stdbuf", ["-oL", "arping", "-D", "-c", "1", "-w", "1", "-I", dev, vip], {
          stdio: ["ignore", "pipe", "pipe"],
        });
        let out = "";
        let probing = false;
        const limit = setTimeout(() => p.kill("SIGKILL"), 2000);
        const collect = (d: Buffer) => {
          out += d;
          if (!probing && out.includes("ARPING")) {
            probing = true;
            setTimeout(() => p.kill("SIGINT"), PROBE_WAIT_MS).unref();
          }
        };
        p.stdout?.on("data", collect);
        p.stderr?.on("data", (d: Buffer) => (out += d));
        p.once("error", (err) => {
          clearTimeout(limit);
          reject(new Error(`arping: ${err.message}`));
        });
        p.once("close", (code) => {
          clearTimeout(limit);
          if (code === 1 || /Received [1-9]/.test(out)) resolve(true);
          else if (code === 0 && /Sent [1-9]/.test(out) && /Received 0 /.test(out)) resolve(false);
          else reject(new Error(`arping -D ${vip} on ${dev} made no probe (exit ${code}): ${out.trim()}`));
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
