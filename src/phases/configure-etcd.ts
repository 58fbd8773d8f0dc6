/**
 * Configure etcd: data directory (0700) and the marker of the cluster it
 * belongs to, unit enabled. The first-start settings of a brand-new cluster
 * are written here too; members joining an existing cluster get theirs when
 * they join (phases/etcd-members.ts).
 */

import { sha256 } from "../core/hash.js";
import { ETCD_BOOTSTRAP_ENV, ETCD_CLUSTER_MARKER, ETCD_DATA_DIR, Unit } from "../core/host-paths.js";
import type { DeployContext } from "../deploy/context.js";
import { isNewCluster } from "../deploy/etcd-cluster.js";
import { unitState } from "../deploy/facts.js";
import { must, writeFile } from "../deploy/remote.js";
import type { Phase } from "../deploy/runner.js";
import { peerUrl } from "../etcd/urls.js";
import { clusterMarker } from "../pki/fingerprint.js";
import { renderBootstrapEnv } from "../render/etcd-unit.js";

export const ConfigureEtcd: Phase<DeployContext> = {
  title: "Configure etcd",
  async run(ctx) {
    const marker = clusterMarker(ctx.pkiDir);
    const fresh = isNewCluster(ctx);
    const members = ctx.etcdMembers();
    await ctx.onHosts(members, async (host) => {
      const f = host.facts;
      const t = () => ctx.transport(host);
      if (f?.etcdClusterMarker !== marker) {
        await ctx.change(host, `create ${ETCD_DATA_DIR} (0700) for this cluster`, async () => {
          await must(
            t(),
            `mkdir -p -m 0700 ${ETCD_DATA_DIR} && chmod 0700 ${ETCD_DATA_DIR} && echo ${marker} > ${ETCD_CLUSTER_MARKER}`,
          );
        });
      }
      if (fresh) {
        const peers = members.map((m) => ({ name: m.spec.name, url: peerUrl(m.spec) }));
        const env = renderBootstrapEnv(ctx.cluster, peers, "new");
        const have = f?.files.get(ETCD_BOOTSTRAP_ENV);
        if (!have || have.sha256 !== sha256(env)) {
          await ctx.change(host, `write ${ETCD_BOOTSTRAP_ENV} (new cluster of ${members.length})`, () =>
            writeFile(t(), ETCD_BOOTSTRAP_ENV, env, 0o644),
          );
        }
      }
      if (!unitState(f, Unit.etcd).enabled)
        await ctx.change(
          host,
          `enable ${Unit.etcd}`,
          async () => void (await must(t(), `systemctl enable ${Unit.etcd} 2>&1`)),
        );
    });
  },
};
