/** Checks before the lab touches this machine: root, kernel features, and the operator-side tools. */
import { readFileSync } from "node:fs";
import { ExpectedExit } from "../core/errors.js";
import { hasCommand, run, tryRun } from "../core/exec.js";

/** Commands the lab runs, and the Debian package that has each. */
const TOOLS: Readonly<Record<string, string>> = {
  "systemd-nspawn": "systemd-container",
  debootstrap: "debootstrap",
  ip: "iproute2",
  nft: "nftables",
  ssh: "openssh-client",
  "ssh-keygen": "openssh-client",
  mount: "mount",
};

/** Fails clearly unless the lab can run here; installs missing tools with apt-get, saying so. */
export function preflight(log: (line: string) => void): void {
  if (process.getuid?.() !== 0) {
    throw new ExpectedExit("the lab needs root: it creates a bridge, overlay mounts and containers", {
      code: "NOT_ROOT",
      hint: "run kubeha lab as root (sudo)",
    });
  }
  if (!readFileSync("/proc/filesystems", "utf8").includes("overlay")) tryRun("modprobe", ["overlay"]);
  if (!readFileSync("/proc/filesystems", "utf8").includes("overlay")) {
    throw new ExpectedExit("this kernel has no overlayfs: lab hosts share one base image through it", {
      code: "NO_KERNEL_FEATURE",
      hint: "load the overlay module (modprobe overlay) or use a kernel with CONFIG_OVERLAY_FS",
    });
  }
  const missing = [
    ...new Set(
      Object.entries(TOOLS)
        .filter(([cmd]) => !hasCommand(cmd))
        .map(([, pkg]) => pkg),
    ),
  ];
  if (missing.length > 0) {
    log(`installing Debian packages the lab needs: ${missing.join(" ")}`);
    run("apt-get", ["update", "-qq"]);
    run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing], {
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
  }
}
