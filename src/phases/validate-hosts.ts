/**
 * Validate hosts: every refusal that the spec, the state and the gathered
 * facts can tell comes here, before the first change. systemd present; the
 * tools the VIP manager runs on VIP candidates; no etcd data of another
 * cluster where a member should run (kubeha never wipes it, and the likely
 * cause is the wrong state directory); no etcd member dropped from the spec
 * without --allow-member-removal, and none whose removal would lose quorum;
 * Kubernetes binaries of the hosts' architecture; no etcd
 * version jump a member's data cannot take.
 */
import { dirname } from "node:path";
import { etcdVersionOf } from "../binaries/etcd.js";
import { HostError } from "../core/errors.js";
import { ETCD_CLUSTER_MARKER, ETCD_DATA_DIR } from "../core/host-paths.js";
import type { DeployContext, DeployHost } from "../deploy/context.js";
import { refuseRemoval, strangers } from "../deploy/etcd-cluster.js";
import type { Phase } from "../deploy/runner.js";
import { clusterMarker, statesWithMarker } from "../pki/fingerprint.js";
import { isVipCandidate } from "../spec/vips.js";

/**
 * Why etcd cannot go from the installed version to the spec's on a member
 * with data: etcd upgrades one minor version at a time and has no plain
 * downgrade (the data would not be readable, or not safely).
 */
export function etcdVersionJump(installed: string | undefined, target: string | undefined) {
  const minor = (v: string) => v.replace(/^v/, "").split(".").slice(0, 2).map(Number);
  if (!installed || !target) return undefined;
  const [a = 0, b = 0] = minor(installed);
  const [c = 0, d = 0] = minor(target);
  if (c !== a || d < b) {
    return {
      message: `etcd ${installed} runs here with data and the spec asks for ${target}: etcd has no such downgrade`,
      hint: `keep etcd at ${a}.${b} or later (etcd.binaries), or restore the data from a snapshot taken with ${target}'s minor version`,
    };
  }
  if (d > b + 1) {
    return {
      message: `etcd ${installed} runs here with data and the spec asks for ${target}: etcd upgrades one minor version at a time`,
      hint: `upgrade to the latest v${a}.${b + 1}.x first (etcd.binaries: { source: download, version: v${a}.${b + 1}.N }), run up, then to ${target}`,
    };
  }
  return undefined;
}

/** `uname -m` to the release's architecture names. */
const UNAME_ARCH: Record<string, string> = { x86_64: "amd64", aarch64: "arm64" };

/** The refusal for a member host whose etcd data belongs to another cluster, with where its state probably is. */
function foreignData(ctx: DeployContext, host: DeployHost, ours: string): HostError {
  const theirs = host.facts?.etcdClusterMarker;
  const name = host.spec.name;
  const lastResort = `only if that cluster is to be thrown away: move ${ETCD_DATA_DIR} and ${ETCD_CLUSTER_MARKER} aside on ${name} (everything that cluster stored is then gone from it) and run again`;
  if (!theirs) {
    return new HostError(
      name,
      ctx.phase,
      `${ETCD_DATA_DIR} holds etcd data kubeha did not write (no marker); kubeha never wipes etcd data`,
      {
        hint: `find out whose data it is first; ${lastResort}`,
      },
    );
  }
  const near = [
    ctx.options.specFile ? dirname(ctx.options.specFile) : ctx.options.specDir,
    process.cwd(),
    dirname(ctx.stateDir),
  ];
  const found = statesWithMarker(theirs, near);
  const where = found.length
    ? `the state directory ${found[0]} matches these hosts: run again with --state ${found[0]}`
    : `look for the state directory whose etcd CA has that fingerprint (\`sha256sum STATE/pki/etcd/ca.crt | cut -c1-32\`) and run again with --state STATE`;
  return new HostError(
    name,
    ctx.phase,
    `${ETCD_DATA_DIR} holds etcd data of the cluster whose etcd CA has fingerprint ${theirs}, and the state directory ${ctx.stateDir} has ${ours}: it is probably the wrong state directory for these hosts; kubeha never wipes etcd data`,
    { hint: `${where}; ${lastResort}` },
  );
}

export const ValidateHosts: Phase<DeployContext> = {
  title: "Validate hosts",
  async run(ctx) {
    const marker = clusterMarker(ctx.pkiDir);
    await ctx.onHosts(ctx.hosts, async (host) => {
      const f = host.facts;
      if (!f) throw new HostError(host.spec.name, ctx.phase, "no facts gathered");
      if (!f.systemd) {
        throw new HostError(host.spec.name, ctx.phase, "systemd is not running as init", {
          hint: "kubeha runs its services as systemd units: use a host booted with systemd",
        });
      }
      if (isVipCandidate(ctx.cluster, host.spec) && f.missingVipPackages.length > 0) {
        throw new HostError(
          host.spec.name,
          ctx.phase,
          `a VIP candidate needs ip (iproute2), arping from iputils and stdbuf (coreutils); missing: ${f.missingVipPackages.join(", ")}`,
          {
            hint: `on ${host.spec.name}: apt-get install -y ${f.missingVipPackages.join(" ")}, then run again`,
          },
        );
      }
      const binaries = ctx.cluster.kubernetes.binaries;
      const arch = UNAME_ARCH[f.arch] ?? f.arch;
      if (binaries.source !== "standin" && arch !== binaries.arch) {
        throw new HostError(
          host.spec.name,
          ctx.phase,
          `the host is ${f.arch} (${arch}) and kubernetes.binaries are for ${binaries.arch}`,
          {
            hint: `set kubernetes.binaries.arch: ${arch} (every host runs the release's binaries: all must share one architecture)`,
          },
        );
      }
      const jump = etcdVersionJump(
        f.etcdHasData ? f.etcdVersion : undefined,
        etcdVersionOf(ctx.cluster.etcd.binaries),
      );
      if (host.spec.roles.includes("etcd") && jump) {
        throw new HostError(host.spec.name, ctx.phase, jump.message, { hint: jump.hint });
      }
      if (host.spec.roles.includes("etcd") && f.etcdHasData && f.etcdClusterMarker !== marker)
        throw foreignData(ctx, host, marker);
      ctx.report.host(host.spec.name, "ok");
    });
    const live = ctx.liveMembers;
    if (live) refuseRemoval(live, strangers(live, ctx.etcdMembers()), ctx.options.allowMemberRemoval);
  },
};
