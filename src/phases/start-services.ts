/**
 * Start services: the apiserver stand-ins (lab only) and the agents. Each
 * service is enabled and started if it is not running, restarted when its
 * binary, unit, config or certificates changed, and only reloaded when just
 * the agent's backend list changed (a reload keeps established sessions).
 * Stand-ins restart one host at a time and must be ready again before the
 * next, so the API keeps a ready backend throughout.
 */
import { HostError } from "../core/errors.js";
import type { DeployContext, DeployHost } from "../deploy/context.js";
import type { ServiceAction } from "../deploy/desired.js";
import { clearPending, must } from "../deploy/remote.js";
import { waitFor } from "../etcd/etcdctl.js";
import { shq } from "../transport/transport.js";
import type { Phase } from "./phase.js";

type Service = "kubeha-agent" | "kubeha-apiserver-standin";

async function converge(
  ctx: DeployContext,
  host: DeployHost,
  service: Service,
  restartOn: ServiceAction,
  reloadOn?: ServiceAction,
): Promise<boolean> {
  const t = () => ctx.transport(host);
  const owed = [restartOn, ...(reloadOn ? [reloadOn] : [])];
  const systemctl = async (verb: "enable" | "start" | "restart" | "reload") => {
    await must(t(), `systemctl ${verb} ${service}${verb === "enable" ? " 2>&1" : ""}`);
    if (verb !== "enable") await clearPending(t(), verb === "reload" ? [reloadOn ?? restartOn] : owed);
  };
  const state = host.facts?.services[service];
  if (!state?.enabled) await ctx.change(host, `enable ${service}`, () => systemctl("enable"));
  if (!state?.active) {
    await ctx.change(host, `start ${service}`, () => systemctl("start"));
    return true;
  }
  if (host.restart.has(restartOn)) {
    await ctx.change(host, `restart ${service} (its binary, unit, config or certificates changed)`, () =>
      systemctl("restart"),
    );
    return true;
  }
  if (reloadOn && host.restart.has(reloadOn)) {
    await ctx.change(host, `reload ${service} (backends changed; sessions kept)`, () => systemctl("reload"));
  }
  return false;
}

/** Waits until the stand-in on `host` answers /readyz. */
async function waitStandinReady(ctx: DeployContext, host: DeployHost): Promise<void> {
  if (ctx.options.dryRun) return;
  const url = `https://${host.spec.address}:${ctx.cluster.controlPlane.apiserverPort}/readyz`;
  const probe = `curl -sf -m 2 --cacert /etc/kubernetes/pki/ca.crt ${shq(url)}`;
  if (!(await waitFor(async () => (await ctx.transport(host).exec(probe)).code === 0, 30_000))) {
    throw new HostError(host.spec.name, ctx.phase, `the apiserver stand-in is not ready at ${url}`, {
      hint: `journalctl -u kubeha-apiserver-standin on ${host.spec.name}`,
    });
  }
}

export const StartServices: Phase = {
  title: "Start apiserver stand-ins and agents",
  async run(ctx: DeployContext) {
    if (ctx.cluster.kubernetes.binaries.source === "standin") {
      for (const host of ctx.withRole("controlplane")) {
        await converge(ctx, host, "kubeha-apiserver-standin", "standin");
        await waitStandinReady(ctx, host);
      }
    }
    await ctx.onHosts(ctx.hosts, async (host) => {
      await converge(ctx, host, "kubeha-agent", "agent", "agent-reload");
    });
  },
};
