/**
 * Configure etcd auth: users mapped from certificate CNs, the agent's role
 * limited to /kubeha/, auth on (src/etcd/auth.ts says who gets what). Runs
 * through a member's etcdctl with the root-role healthcheck certificate.
 */
import { HostError } from "../core/errors.js";
import type { DeployContext } from "../deploy/context.js";
import { etcdActive } from "../deploy/etcd-cluster.js";
import type { Phase } from "../deploy/runner.js";
import { authSteps, NO_AUTH, readAuthState } from "../etcd/auth.js";
import { etcdctl } from "../etcd/etcdctl.js";
import { clientUrl } from "../etcd/urls.js";

export const EtcdAuth: Phase<DeployContext> = {
  title: "Configure etcd auth",
  shouldRun: (ctx) => ctx.etcdMembers().length > 0,
  async run(ctx) {
    const members = ctx.etcdMembers();
    const via = members[0] as (typeof members)[number];
    const endpoints = members.map((m) => clientUrl(m.spec)).join(",");
    const run = (args: string) => etcdctl(ctx.transport(via), args, endpoints);
    const fresh = ctx.dryRun && !etcdActive(via);
    const hint = "the certificate kubeha uses (etcd/healthcheck-client) must keep etcd's root role";
    const state = fresh
      ? NO_AUTH
      : await readAuthState(run).catch((cause: Error) => {
          throw new HostError(via.spec.name, ctx.phase, `cannot read etcd's auth state: ${cause.message}`, {
            cause,
            hint,
          });
        });
    for (const step of authSteps(state)) {
      await ctx.change(via, step.what, async () => {
        const r = await run(step.args);
        if (r.code !== 0)
          throw new HostError(
            via.spec.name,
            ctx.phase,
            `etcdctl ${step.args}: ${(r.stderr || r.stdout).trim()}`,
            {
              hint,
            },
          );
      });
    }
  },
};
