/**
 * Node preflight: what every host must offer before it can be a Kubernetes
 * node, checked before the first change, each failure naming the host and
 * what to do. Swap off (the kubelet refuses to start with it unless the spec
 * says how to run with it); overlayfs and bridge netfilter in the kernel or
 * loadable (kubeha loads them and sets the sysctls persistently, see
 * services/node.ts); the distribution packages the node needs installed or
 * installable; a synchronised clock (certificates, etcd leases and the
 * VIP's fence all compare times across hosts). A host in a container (the
 * lab) keeps the machine's clock.
 */
import { HostError } from "../core/errors.js";
import type { DeployContext } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";
import { hostPackages } from "../services/node.js";

export const NodePreflight: Phase<DeployContext> = {
  title: "Node preflight",
  async run(ctx) {
    await ctx.onHosts(ctx.hosts, async (host) => {
      const f = host.facts;
      if (!f) throw new HostError(host.spec.name, ctx.phase, "no facts gathered");
      const name = host.spec.name;
      const fail = (message: string, hint: string) => {
        throw new HostError(name, ctx.phase, message, { hint });
      };
      if (f.node.swapKiB > 0 && ctx.cluster.kubernetes.kubelet.swap === "fail") {
        fail(
          `swap is on (${Math.round(f.node.swapKiB / 1024)} MiB): the kubelet refuses to start with swap`,
          `on ${name}: swapoff -a and remove the swap entries from /etc/fstab; or set kubernetes.kubelet.swap: NoSwap (or LimitedSwap) to run with it`,
        );
      }
      if (!f.node.overlay) {
        fail(
          "the kernel has no overlay file system and cannot load it (modprobe overlay): containerd needs it",
          `on ${name}: install the kernel modules of the running kernel (linux-image-$(uname -r)), or use a kernel with CONFIG_OVERLAY_FS`,
        );
      }
      if (!f.node.brNetfilter) {
        fail(
          "the kernel has no bridge netfilter (br_netfilter) and cannot load it: Services would not reach pods on the same bridge",
          `on ${name}: install the kernel modules of the running kernel, or use a kernel with CONFIG_BRIDGE_NETFILTER`,
        );
      }
      const missing = hostPackages(ctx.cluster, host.spec).filter(
        (p) => !f.packages.installed.includes(p) && !f.packages.installable.includes(p),
      );
      if (missing.length > 0) {
        fail(
          `${missing.join(", ")} ${missing.length > 1 ? "are" : "is"} not installed and apt cannot install ${missing.length > 1 ? "them" : "it"}`,
          `on ${name}: apt-get update (the host needs a Debian mirror, an internal one will do), or install ${missing.join(" ")} by hand, then run again`,
        );
      }
      if (f.node.clock === "unsynced") {
        fail(
          "the clock is not synchronised (timedatectl: NTPSynchronized=no): certificates, etcd leases and the VIP's fence compare times across hosts",
          `on ${name}: enable time synchronisation (systemctl enable --now systemd-timesyncd, or chrony) and wait until timedatectl says "System clock synchronized: yes"`,
        );
      }
      ctx.report.host(
        name,
        `swap ${f.node.swapKiB > 0 ? `on (kubelet swap: ${ctx.cluster.kubernetes.kubelet.swap})` : "off"}, overlay and br_netfilter ok, clock ${f.node.clock === "container" ? "the machine's (container)" : "synchronised"}`,
      );
    });
  },
};
