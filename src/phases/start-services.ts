/**
 * Start services: every service in the registry whose rollout is not its own
 * (etcd has phases of its own), in registry order, each on its hosts. A
 * rolling service changes one host at a time and must be ready again before
 * the next, so the API keeps a ready backend throughout; a parallel one
 * changes every host at once (deploy/units.ts says what "change" means).
 * A rolling service that load balancers check (the apiserver) also waits
 * until they send it traffic again. First, units of an earlier kubeha that
 * this one replaced are removed.
 */
import { RETIRED } from "../core/host-paths.js";
import { shq } from "../core/shell.js";
import { sleep } from "../core/wait.js";
import type { DeployContext } from "../deploy/context.js";
import { unitState } from "../deploy/facts.js";
import { must } from "../deploy/remote.js";
import type { Phase } from "../deploy/runner.js";
import { convergeUnit, waitReady } from "../deploy/units.js";
import { SERVICES } from "../services/registry.js";
import { owedAction } from "../services/service.js";

/** The services this phase starts in `ctx`, with their units. */
const started = (ctx: DeployContext) =>
  SERVICES.flatMap((service) => {
    const unit = service.unit(ctx.cluster);
    return unit && service.rollout !== "own" ? [{ service, unit }] : [];
  });

/** Stops, disables and removes what an earlier kubeha deployed and this one does not (core/host-paths RETIRED). */
async function retire(ctx: DeployContext) {
  await ctx.onHosts(ctx.hosts, async (host) => {
    for (const { unit, files } of RETIRED) {
      const state = unitState(host.facts, unit);
      if (!state.active && !state.enabled) continue;
      await ctx.change(host, `remove ${unit} (an earlier kubeha's; replaced)`, async () => {
        const rm = `rm -f ${files.map(shq).join(" ")}`;
        await must(
          ctx.transport(host),
          `systemctl disable --now ${unit} 2>&1; ${rm}; systemctl daemon-reload`,
        );
      });
    }
  });
}

export const StartServices: Phase<DeployContext> = {
  title: "Start services",
  async run(ctx) {
    await retire(ctx);
    for (const { service, unit } of started(ctx)) {
      const hosts = ctx.among(service.hosts(ctx.cluster));
      if (service.rollout === "parallel") {
        await ctx.onHosts(hosts, (host) => convergeUnit(ctx, host, service, unit).then(() => {}));
        continue;
      }
      // taking a running instance down waits until the last one restarted is back in every load balancer
      let settledAt = 0;
      for (const host of hosts) {
        await ctx.onHost(host, async () => {
          const takesDown =
            unitState(host.facts, unit).active && host.owed.has(owedAction(service, "restart"));
          if (takesDown && !ctx.dryRun) await sleep(settledAt - Date.now());
          if (!(await convergeUnit(ctx, host, service, unit))) return;
          await waitReady(ctx, host, service, unit);
          settledAt = Date.now() + (service.settleMs ?? 0);
        });
      }
    }
  },
};
