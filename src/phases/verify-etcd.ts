/** Verify etcd: the members are exactly the spec's, none a learner, every one healthy through mTLS; name the leader. */
import { HostError } from "../core/errors.js";
import type { DeployContext } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";
import { allHealthy, leaderEndpoint, memberList } from "../etcd/etcdctl.js";
import { clientUrl } from "../etcd/urls.js";

export const VerifyEtcd: Phase<DeployContext> = {
  title: "Verify etcd",
  dryRun: "skip",
  shouldRun: (ctx) => ctx.etcdMembers().length > 0,
  async run(ctx) {
    const members = ctx.etcdMembers();
    const via = members[0] as (typeof members)[number];
    const t = ctx.transport(via);
    const live = (await memberList(t)) ?? [];
    const want = members.map((m) => m.spec.name).sort();
    const have = live.map((m) => m.name).sort();
    if (JSON.stringify(want) !== JSON.stringify(have) || live.some((m) => m.isLearner)) {
      throw new HostError(
        via.spec.name,
        ctx.phase,
        `etcd members are [${have.join(", ")}]${live.some((m) => m.isLearner) ? " with learners" : ""}, the spec wants [${want.join(", ")}]`,
        {
          hint: "run `kubeha up` again to finish the membership change",
        },
      );
    }
    const endpoints = members.map((m) => clientUrl(m.spec));
    if (!(await allHealthy(t, endpoints)))
      throw new HostError(via.spec.name, ctx.phase, "not every etcd member is healthy");
    const leaderUrl = await leaderEndpoint(t, endpoints);
    const leader = members.find((m) => clientUrl(m.spec) === leaderUrl)?.spec.name ?? "unknown";
    ctx.report.info(`etcd: ${members.length} members healthy over mTLS, leader ${leader}`);
  },
};
