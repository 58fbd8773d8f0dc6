/**
 * Verify API: through the agent on every host without an apiserver, the
 * node-local proxy reaches an apiserver (the stand-in in the lab) over TLS
 * verified against the cluster CA; and exactly one controlplane host holds
 * the API VIP, through which an apiserver answers.
 */
import { HostError } from "../core/errors.js";
import type { DeployContext } from "../deploy/context.js";
import { waitFor } from "../etcd/etcdctl.js";
import type { Phase } from "./phase.js";

const describe = (body: string) => {
  const v = JSON.parse(body) as { gitVersion?: string; standin?: boolean };
  return `${v.gitVersion}${v.standin ? " (apiserver STAND-IN)" : ""}`;
};

/** Waits until one controlplane host holds the VIP and an apiserver answers through it. */
async function verifyVip(ctx: DeployContext, vip: string, port: number): Promise<void> {
  const cps = ctx.withRole("controlplane");
  const via = cps[0];
  if (!via) return;
  let holders: string[] = [];
  let body = "";
  const ok = await waitFor(async () => {
    const held = await Promise.all(
      cps.map(async (h) =>
        (await ctx.transport(h).exec(`ip -o addr show to ${vip}/32`)).stdout.includes(vip),
      ),
    );
    holders = cps.filter((_, i) => held[i]).map((h) => h.spec.name);
    if (holders.length !== 1) return false;
    const r = await ctx
      .transport(via)
      .exec(`curl -sf -m 2 --cacert /etc/kubernetes/pki/ca.crt https://${vip}:${port}/version`);
    body = r.stdout;
    return r.code === 0;
  }, 20_000);
  if (!ok)
    throw new HostError(
      holders.join(", ") || via.spec.name,
      ctx.phase,
      holders.length > 1
        ? `the API VIP ${vip} is on ${holders.join(" and ")} at once`
        : `no apiserver answers through the API VIP ${vip}:${port} (held by ${holders[0] ?? "no host"})`,
      { hint: "journalctl -u kubeha-agent on the controlplane hosts" },
    );
  ctx.report.host(holders[0] as string, `holds the API VIP ${vip}; ${vip}:${port} -> ${describe(body)}`);
}

export const VerifyApi: Phase = {
  title: "Verify the API through the VIP and the node-local proxies",
  async run(ctx: DeployContext) {
    if (ctx.options.dryRun) return;
    const ep = ctx.cluster.controlPlane.endpoint;
    if (ep.mode === "vip") await verifyVip(ctx, ep.vip, ep.port);
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
        ctx.report.host(host.spec.name, `127.0.0.1:${port} -> ${describe(body)}`);
      },
    );
  },
};
