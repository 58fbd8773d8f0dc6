/**
 * Connect: open a connection to every host, verifying pinned host keys; nothing
 * changes if any host fails. Any command that reaches hosts starts with it.
 */
import type { ClusterContext } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";

export const Connect: Phase<ClusterContext> = {
  title: "Connect",
  async run(ctx) {
    await ctx.onHosts(ctx.hosts, async (host) => {
      host.transport = await ctx.connect(host.spec, ctx);
      ctx.report.host(host.spec.name, `connected to ${host.spec.ssh.user}@${host.spec.address}`);
    });
  },
  async cleanup(ctx) {
    await Promise.all(ctx.hosts.map((h) => h.transport?.close()));
  },
};
