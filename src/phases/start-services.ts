/**
 * Start services: every service in the registry whose rollout is not its own
 * (etcd has phases of its own), in registry order, each on its hosts. A
 * rolling service changes one host at a time and must be ready again before
 * the next, so the API keeps a ready backend throughout; a parallel one
 * changes every host at once (deploy/units.ts says what "change" means).
 */
import type { DeployContext } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";
import { convergeUnit, waitReady } from "../deploy/units.js";
import { SERVICES } from "../services/registry.js";

/** The services this phase starts in `ctx`, with their units. */
const started = (ctx: DeployContext) =>
  SERVICES.flatMap((service) => {
    const unit = service.unit(ctx.cluster);
    return unit && service.rollout !== "own" ? [{ service, unit }] : [];
  });

export const StartServices: Phase<DeployContext> = {
  title: "Start services",
  async run(ctx) {
    for (const { service, unit } of started(ctx)) {
      const hosts = ctx.among(service.hosts(ctx.cluster));
      if (service.rollout === "parallel") {
        await ctx.onHosts(hosts, (host) => convergeUnit(ctx, host, service, unit).then(() => {}));
        continue;
      }
      for (const host of hosts) {
        await ctx.onHost(host, async () => {
          if (await convergeUnit(ctx, host, service, unit)) await waitReady(ctx, host, service, unit);
        });
      }
    }
  },
};
