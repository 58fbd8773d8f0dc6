/**
 * Validate hosts: systemd present, the tools the VIP manager runs on VIP
 * candidates, and no etcd data of another cluster where a member should run.
 * kubeha never wipes etcd data; it says whose it is.
 */
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { HostError } from "../core/errors.js";
import type { DeployContext } from "../deploy/context.js";
import { ETCD_CLUSTER_MARKER, ETCD_DATA_DIR } from "../render/etcd-unit.js";
import type { Phase } from "./phase.js";

/** This cluster's identity: the fingerprint of its etcd CA. */
export function clusterMarker(pkiDir: string): string {
  return createHash("sha256")
    .update(readFileSync(join(pkiDir, "etcd/ca.crt")))
    .digest("hex")
    .slice(0, 32);
}

export const ValidateHosts: Phase = {
  title: "Validate hosts",
  async run(ctx: DeployContext) {
    const marker = clusterMarker(ctx.pkiDir);
    await ctx.onHosts(ctx.hosts, async (host) => {
      const f = host.facts;
      if (!f) throw new HostError(host.spec.name, ctx.phase, "no facts gathered");
      if (!f.systemd) {
        throw new HostError(host.spec.name, ctx.phase, "systemd is not running as init", {
          hint: "kubeha runs its services as systemd units: use a host booted with systemd",
        });
      }
      const vipCandidate =
        host.spec.roles.includes("controlplane") && ctx.cluster.controlPlane.endpoint.mode === "vip";
      if (vipCandidate && f.missingVipPackages.length > 0) {
        throw new HostError(
          host.spec.name,
          ctx.phase,
          `the API VIP needs ip (iproute2), arping from iputils and stdbuf (coreutils); missing: ${f.missingVipPackages.join(", ")}`,
          {
            hint: `on ${host.spec.name}: apt-get install -y ${f.missingVipPackages.join(" ")}, then run again`,
          },
        );
      }
      if (host.spec.roles.includes("etcd") && f.etcdHasData && f.etcdClusterMarker !== marker) {
        const whose = f.etcdClusterMarker
          ? `another cluster (marker ${f.etcdClusterMarker}, this cluster is ${marker})`
          : "an unknown cluster (no kubeha marker)";
        throw new HostError(
          host.spec.name,
          ctx.phase,
          `${ETCD_DATA_DIR} holds etcd data of ${whose}; kubeha never wipes etcd data`,
          {
            hint: `if that data is not needed, move ${ETCD_DATA_DIR} and ${ETCD_CLUSTER_MARKER} aside on ${host.spec.name} and run again`,
          },
        );
      }
      ctx.report.host(host.spec.name, "ok");
    });
  },
};
