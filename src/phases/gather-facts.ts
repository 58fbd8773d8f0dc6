/** Gather facts: OS, services, etcd data and the state of every file kubeha manages, per host. */
import type { DeployContext } from "../deploy/context.js";
import type { ServiceAction } from "../deploy/desired.js";
import { gatherFacts } from "../deploy/facts.js";
import { ETCD_BOOTSTRAP_ENV } from "../render/etcd-unit.js";
import type { Phase } from "./phase.js";

export const GatherFacts: Phase = {
  title: "Gather facts",
  async run(ctx: DeployContext) {
    await ctx.onHosts(ctx.hosts, async (host) => {
      const paths = [...(host.desired ?? []).map((f) => f.path), ETCD_BOOTSTRAP_ENV];
      host.facts = await gatherFacts(ctx.transport(host), paths);
      for (const owed of host.facts.pending) host.restart.add(owed as ServiceAction);
      const f = host.facts;
      const etcd = host.spec.roles.includes("etcd")
        ? `, etcd ${f.etcdActive ? "running" : f.etcdHasData ? "stopped" : "new"}`
        : "";
      ctx.report.host(host.spec.name, `${f.osId} ${f.osCodename} ${f.arch}${etcd}`);
    });
  },
};
