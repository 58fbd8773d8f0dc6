/**
 * Gather facts: OS, the state of every unit kubeha deploys, etcd data and
 * the state of every file kubeha manages, per host; then the etcd members as
 * the running cluster lists them, so that membership refusals come before
 * any change.
 */
import { ETCD_BOOTSTRAP_ENV, RETIRED } from "../core/host-paths.js";
import type { DeployContext } from "../deploy/context.js";
import { etcdActive } from "../deploy/etcd-cluster.js";
import { gatherFacts } from "../deploy/facts.js";
import type { Phase } from "../deploy/runner.js";
import { memberList } from "../etcd/etcdctl.js";
import { hostPackages } from "../services/node.js";
import { deployedUnits } from "../services/registry.js";

export const GatherFacts: Phase<DeployContext> = {
  title: "Gather facts",
  async run(ctx) {
    const units = [...deployedUnits(ctx.cluster), ...RETIRED.map((r) => r.unit)];
    await ctx.onHosts(ctx.hosts, async (host) => {
      const paths = [...(host.desired ?? []).map((f) => f.path), ETCD_BOOTSTRAP_ENV];
      host.facts = await gatherFacts(ctx.transport(host), units, paths, {
        verify: ctx.options.verify ?? false,
        packages: hostPackages(ctx.cluster, host.spec),
      });
      for (const owed of host.facts.pending) host.owed.add(owed);
      const f = host.facts;
      const etcd = host.spec.roles.includes("etcd")
        ? `, etcd ${etcdActive(host) ? "running" : f.etcdHasData ? "stopped" : "new"}`
        : "";
      ctx.report.host(host.spec.name, `${f.osId} ${f.osCodename} ${f.arch}${etcd}`);
    });
    const via = ctx.etcdMembers().find(etcdActive);
    if (via) ctx.liveMembers = await memberList(ctx.transport(via));
  },
};
