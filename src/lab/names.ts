/**
 * Names of everything a lab creates on this machine, derived from the lab
 * directory's absolute path so that several labs live side by side and `lab
 * down` can find every leftover even when the lab's state file is gone.
 */
import { createHash } from "node:crypto";
import { resolve } from "node:path";

/** Names for one lab. */
export interface LabNames {
  readonly dir: string;
  /** Six hex characters unique to the directory. */
  readonly id: string;
  /** Linux bridge (at most 15 characters). */
  readonly bridge: string;
  /** nftables table (family bridge) holding partitions. */
  readonly table: string;
  /** systemd-nspawn machine name of host number `index`. */
  machine(index: number): string;
  /** The host-side veth nspawn makes for `machine`. */
  veth(machine: string): string;
}

/** The names for the lab in `dir`. */
export function labNames(dir: string): LabNames {
  const abs = resolve(dir);
  const id = createHash("sha256").update(abs).digest("hex").slice(0, 6);
  return {
    dir: abs,
    id,
    bridge: `khb-${id}`,
    table: `kubeha_lab_${id}`,
    machine: (index) => `kh${id}h${String(index).padStart(2, "0")}`,
    veth: (machine) => `vb-${machine}`.slice(0, 15),
  };
}
