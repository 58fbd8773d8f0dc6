/**
 * Install etcd: from the distribution's package on each member that lacks it.
 * The package's own service is kept from starting (policy-rc.d), since
 * kubeha's unit, not the package's plaintext default, is what must run.
 */
import type { DeployContext } from "../deploy/context.js";
import { must } from "../deploy/remote.js";
import type { Phase } from "../deploy/runner.js";

const INSTALL = `set -e
printf '#!/bin/sh\\nexit 101\\n' > /usr/sbin/policy-rc.d; chmod 755 /usr/sbin/policy-rc.d
trap 'rm -f /usr/sbin/policy-rc.d' EXIT
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends etcd-server etcd-client
systemctl disable etcd >/dev/null 2>&1 || true`;

export const InstallEtcd: Phase<DeployContext> = {
  title: "Install etcd",
  // other sources are uploaded with the other files
  shouldRun: (ctx) => ctx.cluster.etcd.binaries.source === "package",
  async run(ctx) {
    await ctx.onHosts(ctx.etcdMembers(), async (host) => {
      if (host.facts?.etcdInstalled) return;
      await ctx.change(host, "install etcd-server and etcd-client (apt)", async () => {
        await must(ctx.transport(host), INSTALL);
      });
    });
  },
};
