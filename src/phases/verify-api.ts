/**
 * Verify API: through the agent on every host without an apiserver, the
 * node-local proxy reaches an apiserver (the stand-in in the lab) over TLS
 * verified against the cluster CA. (Controlplane hosts serve the API VIP,
 * which a host holds once the VIP manager runs.)
 */
import { HostError } from "../core/errors.js";
import type { DeployContext } from "../deploy/context.js";
import { waitFor } from "../etcd/etcdctl.js";
import type { Phase } from "./phase.js";

export const VerifyApi: Phase = {
  title: "Verify the API through the node-local proxies",
  async run(ctx: DeployContext) {
    if (ctx.options.dryRun) return;
    const port = ctx.cluster.controlPlane.nodeLocalProxyPort;
    const probe = `curl -sf -m 2 --cacert /etc/kubernetes/pki/ca.crt https://127.0.0.1:${port}/version`;
    await ctx.onHosts(
      ctx.hosts.filter((h) => !h.spec.roles.includes("controlplane")),
      async (host) => {
        let body = "";
        const ok = await waitFor(async () => {
          const r = await ctx.transport(host).exec(probe);
          body = r.stdout;
          return r.code === 0;
        }, 20_000);
        if (!ok)
          throw new HostError(host.spec.name, ctx.phase, `no apiserver answers through 127.0.0.1:${port}`, {
            hint: `journalctl -u kubeha-agent on ${host.spec.name}`,
          });
        const version = JSON.parse(body) as { gitVersion?: string; standin?: boolean };
        ctx.report.host(
          host.spec.name,
          `127.0.0.1:${port} -> ${version.gitVersion}${version.standin ? " (apiserver STAND-IN)" : ""}`,
        );
      },
    );
  },
};
