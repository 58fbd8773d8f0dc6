/**
 * The VIP on a host interface, through iproute2 and iputils arping: a /32
 * with a kernel lifetime, removed, probed for another holder (ARP duplicate
 * address detection) and announced (gratuitous ARP).
 */
import { type ChildProcess, spawn } from "node:child_process";
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

/** How long one batch command may take before the batch is restarted. */
const BATCH_TIMEOUT_MS = 5000;
/**
 * After each command: a lookup that prints one line, saying the command
 * before it is done (not `link show`, whose filter a later `address show` in
 * the same batch would inherit).
 */
const MARKER = "route get 127.0.0.1";
const MARKER_LINE = /^local 127\.0\.0\.1 /;

/**
 * One long-lived `ip -force -o -batch -` for the address changes of this
 * process: a lifetime refresh (four a second per VIP) or a removal is a line
 * written to it, not a fork and exec of `ip`, which a host starved of CPU
 * has been seen to delay by 600 ms, past the fence. After each command a
 * marker command prints one line; what came before it (standard error is
 * joined to standard output, so in order) is that command's output.
 */
export class IpBatch {
  private proc: ChildProcess | undefined;
  private buffer = "";
  private lines: string[] = [];
  private readonly waiting: {
    resolve(out: string): void;
    reject(err: Error): void;
    timer: NodeJS.Timeout;
  }[] = [];

  constructor(
    // SIGTERM ignored (and so through exec): `systemctl stop` signals every process of the unit at once, and
    // the batch must outlive the agent's own stop, which removes the address; it ends when its input does
    private readonly argv: readonly string[] = [
      "sh",
      "-c",
      "trap '' TERM; exec stdbuf -oL ip -force -o -batch - 2>&1",
    ],
  ) {}

  /** Runs one `ip` command (without the leading `ip`); resolves with what it printed. */
  run(command: string): Promise<string> {
    const proc = this.proc ?? this.start();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => this.restart(new Error(`ip ${command}: no answer within ${BATCH_TIMEOUT_MS} ms`)),
        BATCH_TIMEOUT_MS,
      );
      this.waiting.push({ resolve, reject, timer });
      proc.stdin?.write(`${command}\n${MARKER}\n`);
    });
  }

  /** Ends the batch (the next command starts another). */
  close(): void {
    this.restart(new Error("the ip batch was closed"));
  }

  private start(): ChildProcess {
    const [cmd = "ip", ...args] = this.argv;
    const proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "ignore"] });
    this.proc = proc;
    this.buffer = "";
    this.lines = [];
    proc.stdout?.on("data", (d: Buffer) => {
      this.buffer += d;
      const lines = this.buffer.split("\n");
      this.buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (!MARKER_LINE.test(line)) {
          this.lines.push(line);
          continue;
        }
        const w = this.waiting.shift();
        const out = this.lines.join("\n");
        this.lines = [];
        if (w) {
          clearTimeout(w.timer);
          w.resolve(out);
        }
      }
    });
    proc.stdin?.on("error", () => {}); // a batch that died: its exit handler answers the waiting
    proc.once("error", (err) => this.proc === proc && this.restart(err));
    proc.once(
      "exit",
      (code, signal) => this.proc === proc && this.restart(new Error(`ip batch ended (${code ?? signal})`)),
    );
    // neither the pipes nor the child keep the agent alive; a pending command's timer does
    proc.unref();
    for (const stream of [proc.stdin, proc.stdout]) (stream as unknown as { unref?(): void })?.unref?.();
    return proc;
  }

  private restart(err: Error): void {
    const proc = this.proc;
    this.proc = undefined;
    proc?.kill();
    for (const w of this.waiting.splice(0)) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}

/** The batch every VIP of this process shares. */
let shared: IpBatch | undefined;
function sharedBatch(): IpBatch {
  shared ??= new IpBatch();
  return shared;
}

/** The real thing: `ip addr` (through one batch) and `arping` on interface `dev`. */
export function ipAddressOps(vip: string, dev: string, batch: IpBatch = sharedBatch()): AddressOps {
  const prefix = `${vip}/32`;
  const ip = async (command: string, fine?: RegExp) => {
    // a batch that died or hangs: the command runs as a process of its own, as it would without a batch
    const out = await batch.run(command).catch(async () => {
      const r = await run("ip", command.split(" "));
      return `${r.stdout}${r.stderr}${r.code === 0 ? "" : "\nCommand failed"}`;
    });
    if (/Command failed|Error:/.test(out) && !fine?.test(out))
      throw new Error(`ip ${command}: ${out.trim()}`);
  };
  return {
    hold: (lifetime) =>
      ip(`address replace ${prefix} dev ${dev} valid_lft ${lifetime} preferred_lft ${lifetime}`),
    release: () =>
      ip(`address del ${prefix} dev ${dev}`, /Cannot assign requested address|Address not found/),
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
