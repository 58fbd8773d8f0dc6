/**
 * Verify API: through the agent on every host without an apiserver, the
 * node-local proxy reaches an apiserver (the stand-in in the lab) over TLS
 * verified against the cluster CA; and exactly one controlplane host holds
 * the API VIP, through which an apiserver answers.
 */
import { HostError } from "../core/errors.js";
import { HostPki, pkiPath, Unit } from "../core/host-paths.js";
import { httpsUrl } from "../core/ip.js";
import { waitFor } from "../core/wait.js";
import type { DeployContext, DeployHost } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";
import { floatingAddresses } from "../spec/vips.js";

const VERIFY_TIMEOUT_MS = 20_000;

/** GET /version at `url` from a host, verified against the cluster CA. */
const versionProbe = (url: string) => `curl -sf -m 2 --cacert ${pkiPath(HostPki.ca.cert)} ${url}/version`;

const describe = (body: string) => {
  const v = JSON.parse(body) as { gitVersion?: string; standin?: boolean };
  return `${v.gitVersion}${v.standin ? " (apiserver STAND-IN)" : ""}`;
};

/** Waits until exactly one candidate holds `vip` and an apiserver answers through it. */
async function verifyVip(ctx: DeployContext, candidates: readonly DeployHost[], vip: string, port: number) {
  const via = candidates[0];
  if (!via) return;
  let holders: string[] = [];
  let body = "";
  const ok = await waitFor(async () => {
    const held = await Promise.all(
      candidates.map(async (h) =>
        (await ctx.transport(h).exec(`ip -o addr show to ${vip}/32`)).stdout.includes(vip),
      ),
    );
    holders = candidates.filter((_, i) => held[i]).map((h) => h.spec.name);
    if (holders.length !== 1) return false;
    const r = await ctx.transport(via).exec(versionProbe(httpsUrl(vip, port)));
    body = r.stdout;
    return r.code === 0;
  }, VERIFY_TIMEOUT_MS);
  if (!ok)
    throw new HostError(
      holders.join(", ") || via.spec.name,
      ctx.phase,
      holders.length > 1
        ? `the API VIP ${vip} is on ${holders.join(" and ")} at once`
        : `no apiserver answers through the API VIP ${vip}:${port} (held by ${holders[0] ?? "no host"})`,
      { hint: `journalctl -u ${Unit.agent} on the controlplane hosts` },
    );
  ctx.report.host(holders[0] as string, `holds the API VIP ${vip}; ${vip}:${port} -> ${describe(body)}`);
}

export const VerifyApi: Phase<DeployContext> = {
  title: "Verify the API through the VIP and the node-local proxies",
  dryRun: "skip",
  async run(ctx) {
    const api = floatingAddresses(ctx.cluster).find((v) => v.name === "api");
    if (api) await verifyVip(ctx, ctx.among(api.candidates), api.address, api.ports[0] ?? 0);
    const port = ctx.cluster.controlPlane.nodeLocalProxyPort;
    const probe = versionProbe(httpsUrl("127.0.0.1", port));
    await ctx.onHosts(
      ctx.hosts.filter((h) => !h.spec.roles.includes("controlplane")),
      async (host) => {
        let body = "";
        const ok = await waitFor(async () => {
          const r = await ctx.transport(host).exec(probe);
          body = r.stdout;
          return r.code === 0;
        }, VERIFY_TIMEOUT_MS);
        if (!ok)
          throw new HostError(host.spec.name, ctx.phase, `no apiserver answers through 127.0.0.1:${port}`, {
            hint: `journalctl -u ${Unit.agent} on ${host.spec.name}`,
          });
        ctx.report.host(host.spec.name, `127.0.0.1:${port} -> ${describe(body)}`);
      },
    );
  },
};
