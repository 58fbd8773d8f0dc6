/**
 * Install packages: the distribution's packages a host needs and lacks —
 * every node's runtime and packet filter tools (containerd, runc, the CNI
 * plugins, conntrack, iptables) and, with `etcd.binaries.source: package`,
 * etcd on its members, and nginx for the lab's ingress controller. Services the packages would start are kept from
 * starting (policy-rc.d): kubeha's units and configs, not the packages'
 * defaults (etcd's is plaintext), are what must run. Node preflight has
 * already refused a host whose apt cannot install them.
 */
import { shq } from "../core/shell.js";
import type { DeployContext } from "../deploy/context.js";
import { must } from "../deploy/remote.js";
import type { Phase } from "../deploy/runner.js";
import { hostPackages } from "../services/node.js";

const install = (packages: readonly string[]) => `set -e
printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ${packages.map(shq).join(" ")}
systemctl disable etcd containerd nginx >/dev/null 2>&1 || true`;

export const InstallPackages: Phase<DeployContext> = {
  title: "Install packages",
  async run(ctx) {
    await ctx.onHosts(ctx.hosts, async (host) => {
      const installed = host.facts?.packages.installed ?? [];
      const missing = hostPackages(ctx.cluster, host.spec).filter((p) => !installed.includes(p));
      if (missing.length === 0) return;
      await ctx.change(host, `install ${missing.join(", ")} (apt)`, async () => {
        await must(ctx.transport(host), install(missing));
      });
    });
  },
};
