/**
 * Bringing a host's service to what its files want, the same way for every
 * service in the registry: enabled; started when it is not running;
 * restarted when a file it reads changed (or a restart is still owed from an
 * interrupted run); otherwise only reloaded when that is all a change needs.
 * An owed action is cleared once done.
 */
import { HostError } from "../core/errors.js";
import { waitFor } from "../core/wait.js";
import { type HostService, owedAction } from "../services/service.js";
import type { DeployContext, DeployHost } from "./context.js";
import { unitState } from "./facts.js";
import { clearPending, must } from "./remote.js";

const READY_TIMEOUT_MS = 30_000;

/** Converges `service` (its systemd `unit`) on `host`; true when it was started or restarted. */
export async function convergeUnit(
  ctx: DeployContext,
  host: DeployHost,
  service: HostService,
  unit: string,
): Promise<boolean> {
  const t = () => ctx.transport(host);
  const restart = owedAction(service, "restart");
  const reload = owedAction(service, "reload");
  const systemctl = async (verb: "enable" | "start" | "restart" | "reload") => {
    await must(t(), `systemctl ${verb} ${unit}${verb === "enable" ? " 2>&1" : ""}`);
    if (verb !== "enable") await clearPending(t(), verb === "reload" ? [reload] : [restart, reload]);
  };
  const state = unitState(host.facts, unit);
  if (!state.enabled) await ctx.change(host, `enable ${unit}`, () => systemctl("enable"));
  if (!state.active) {
    await ctx.change(host, `start ${unit}`, () => systemctl("start"));
    return true;
  }
  if (host.owed.has(restart)) {
    await ctx.change(host, `restart ${unit} (its binary, unit, config or certificates changed)`, () =>
      systemctl("restart"),
    );
    return true;
  }
  if (host.owed.has(reload)) {
    await ctx.change(host, `reload ${unit} (its configuration changed; sessions kept)`, () =>
      systemctl("reload"),
    );
  }
  return false;
}

/** Waits until `service` answers its readiness probe on `host`; a host error naming the unit's journal otherwise. */
export async function waitReady(
  ctx: DeployContext,
  host: DeployHost,
  service: HostService,
  unit: string,
): Promise<void> {
  if (ctx.dryRun) return;
  const probe = service.readiness(ctx.cluster, host.spec);
  if (!(await waitFor(async () => (await ctx.transport(host).exec(probe)).code === 0, READY_TIMEOUT_MS))) {
    throw new HostError(
      host.spec.name,
      ctx.phase,
      `${unit} is not ready within ${READY_TIMEOUT_MS / 1000} s`,
      {
        hint: `look at \`journalctl -u ${unit}\` on ${host.spec.name}; a re-run continues from here`,
      },
    );
  }
}
