/**
 * Verify ingress: every ingress VIP has exactly one holder among the edges,
 * and an HTTP request to it from another host is answered (by the lab's
 * nginx with the edge's name and the client address it saw; by Traefik with
 * whatever its routes say, a 404 included: it answered). The summary names
 * each VIP's holder. Runs after the add-ons, since with real binaries the
 * controller is Traefik's DaemonSet and the agents hold no VIP before it is
 * ready.
 */
import { HostError } from "../core/errors.js";
import { Unit } from "../core/host-paths.js";
import { hostPort } from "../core/ip.js";
import { waitFor } from "../core/wait.js";
import type { DeployContext } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";
import { INGRESS_PING_URL } from "../render/ingress.js";
import { ingressVips } from "../spec/vips.js";

const VERIFY_TIMEOUT_MS = 30_000;

export const VerifyIngress: Phase<DeployContext> = {
  title: "Verify the ingress VIPs",
  dryRun: "skip",
  async run(ctx) {
    const vips = ingressVips(ctx.cluster);
    const first = vips[0];
    if (!first) return;
    const edges = ctx.among(first.candidates);
    // ask from a host that is not an edge when there is one: the request crosses the network as a client's would
    const client = ctx.hosts.find((h) => !h.spec.roles.includes("edge")) ?? edges[0];
    if (!client) return;
    const port = first.ports[0] ?? 80;
    let holders = new Map<string, string[]>();
    const answers = new Map<string, string>();
    const ok = await waitFor(async () => {
      const held = await Promise.all(
        edges.map(async (h) => (await ctx.transport(h).exec("ip -o -4 addr show")).stdout),
      );
      holders = new Map(
        vips.map((v) => [
          v.address,
          edges.filter((_, i) => held[i]?.includes(` ${v.address}/32 `)).map((h) => h.spec.name),
        ]),
      );
      if ([...holders.values()].some((h) => h.length !== 1)) return false;
      for (const v of vips) {
        if (answers.has(v.address)) continue;
        const r = await ctx
          .transport(client)
          .exec(`curl -s -m 2 -w '\\n%{http_code}' http://${hostPort(v.address, port)}/`);
        const lines = r.stdout.trim().split("\n");
        const code = lines.pop();
        const body = lines.join(" ").trim().slice(0, 80);
        if (r.code === 0 && code !== "000") answers.set(v.address, `${code}${body && ` "${body}"`}`);
      }
      return answers.size === vips.length;
    }, VERIFY_TIMEOUT_MS);
    if (!ok) {
      const bad =
        vips.find((v) => holders.get(v.address)?.length !== 1) ?? vips.find((v) => !answers.has(v.address));
      const on = holders.get(bad?.address ?? "") ?? [];
      throw new HostError(
        on.join(", ") || edges.map((h) => h.spec.name).join(", "),
        ctx.phase,
        on.length > 1
          ? `the ${bad?.title} is on ${on.join(" and ")} at once`
          : on.length === 0
            ? `no edge holds the ${bad?.title}: no edge's ingress controller is ready, or the agents cannot reach etcd`
            : `the ${bad?.title} is on ${on[0]} but http://${hostPort(bad?.address ?? "", port)}/ does not answer from ${client.spec.name}`,
        { hint: `journalctl -u ${Unit.agent} on the edge hosts; curl ${INGRESS_PING_URL} there` },
      );
    }
    for (const v of vips) {
      const holder = holders.get(v.address)?.[0] as string;
      ctx.report.host(
        holder,
        `holds the ${v.title}; http://${hostPort(v.address, port)}/ -> ${answers.get(v.address)}`,
      );
    }
  },
};
