/**
 * The Debian base every lab host boots from: made once with debootstrap from
 * this machine's own apt mirror, configured like a fresh real host (sshd and
 * networkd on; etcd, containerd, keepalived, haproxy and nginx installed but disabled; no
 * host keys, an empty machine id), and cached under a name derived from
 * everything that shapes it, so a changed package list makes a new image.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ExpectedExit } from "../core/errors.js";
import { run } from "../core/exec.js";
import { ensurePrivateDir } from "../core/files.js";

/** What real hosts would have, plus the comparison peers for benchmarks. */
export const BASE_PACKAGES = [
  "systemd",
  "systemd-sysv",
  "dbus",
  "iproute2",
  "openssh-server",
  "etcd-server",
  "etcd-client",
  "iputils-arping",
  "iputils-ping",
  "nftables",
  "curl",
  "openssl",
  "ca-certificates",
  "procps",
  "keepalived",
  "haproxy",
  "nginx-light",
  "libnginx-mod-stream",
  // a Kubernetes node's runtime and packet filter tools, as `up` would install them on a real host
  "containerd",
  "runc",
  "containernetworking-plugins",
  "conntrack",
  "iptables",
] as const;

/** Services the packages enable that a fresh host must not run until kubeha (or a benchmark) configures them. */
const DISABLED_UNITS = [
  "etcd",
  "containerd",
  "keepalived",
  "haproxy",
  "nginx",
  "e2scrub_reap",
  "apt-daily.timer",
  "apt-daily-upgrade.timer",
];

/** Bump when the configure step changes, so cached images are rebuilt. */
const CONFIGURE_VERSION = 1;

/** Where images are cached; KUBEHA_CACHE overrides it. */
export const cacheDir = () => process.env.KUBEHA_CACHE ?? "/var/cache/kubeha";

/** The apt mirror and suite this machine uses, read from its apt configuration (never hard-coded). */
export function aptSource(): { mirror: string; suite: string } {
  const osRelease = readFileSync("/etc/os-release", "utf8");
  const suite = osRelease.match(/^VERSION_CODENAME=(\S+)$/m)?.[1];
  const files = ["/etc/apt/sources.list.d/debian.sources", "/etc/apt/sources.list"];
  const dir = "/etc/apt/sources.list.d";
  if (existsSync(dir))
    files.push(
      ...readdirSync(dir)
        .filter((f) => f.endsWith(".sources") || f.endsWith(".list"))
        .map((f) => join(dir, f)),
    );
  for (const file of files) {
    if (!existsSync(file)) continue;
    const text = readFileSync(file, "utf8");
    // one-line format: deb URI SUITE COMPONENTS
    for (const m of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s/gm)) {
      if (m[1] && suite && m[2] === suite) return { mirror: m[1], suite };
    }
    // deb822 format: stanzas with URIs: and Suites:
    for (const stanza of text.split(/\n\s*\n/)) {
      const uri = stanza.match(/^URIs:\s*(\S+)/m)?.[1];
      const suites = stanza.match(/^Suites:\s*(.+)$/m)?.[1]?.split(/\s+/) ?? [];
      if (uri && suite && suites.includes(suite) && /^Types:.*\bdeb\b/m.test(stanza))
        return { mirror: uri, suite };
    }
  }
  throw new ExpectedExit(`no apt source for ${suite ?? "this release"} found in /etc/apt`, {
    hint: "the lab builds its hosts from this machine's Debian mirror: configure apt first",
  });
}

/** The cached image directory for this machine's mirror and the package list. */
export function imagePath(): string {
  const { mirror, suite } = aptSource();
  const key = createHash("sha256")
    .update(
      JSON.stringify({ mirror, suite, packages: [...BASE_PACKAGES].sort(), configure: CONFIGURE_VERSION }),
    )
    .digest("hex")
    .slice(0, 12);
  return join(cacheDir(), "images", `debian-${suite}-${key}`);
}

function configure(root: string): void {
  const chroot = (...args: string[]) => run("chroot", [root, ...args]);
  chroot("systemctl", "enable", "systemd-networkd", "ssh");
  for (const unit of DISABLED_UNITS)
    run("sh", ["-c", `chroot ${root} systemctl disable ${unit} >/dev/null 2>&1 || true`]);
  chroot("apt-get", "clean");
  for (const f of readdirSync(join(root, "etc/ssh")).filter((f) => f.startsWith("ssh_host_")))
    rmSync(join(root, "etc/ssh", f));
  writeFileSync(join(root, "etc/machine-id"), "");
  writeFileSync(
    join(root, "etc/ssh/sshd_config.d/kubeha-lab.conf"),
    "PasswordAuthentication no\nPermitRootLogin prohibit-password\nUseDNS no\n",
  );
  rmSync(join(root, "var/lib/etcd/default"), { recursive: true, force: true });
}

/** Returns the cached base image, building it first when missing (announcing it: this takes a minute or two). */
export function ensureImage(log: (line: string) => void): string {
  const path = imagePath();
  if (existsSync(join(path, "etc/os-release"))) return path;
  const { mirror, suite } = aptSource();
  const partial = `${path}.partial`;
  rmSync(partial, { recursive: true, force: true });
  ensurePrivateDir(join(cacheDir(), "images"));
  log(
    `building the lab base image (debootstrap ${suite} from ${mirror}); this happens once per package list`,
  );
  run("debootstrap", ["--variant=minbase", `--include=${BASE_PACKAGES.join(",")}`, suite, partial, mirror], {
    hint: "debootstrap needs this machine's Debian mirror; check `apt-get update` works",
  });
  configure(partial);
  renameSync(partial, path);
  return path;
}
