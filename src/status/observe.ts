/**
 * What `kubeha status` sees, read from every host directly and never only
 * through a VIP (the VIP may be what is broken). Each host gets one round of
 * read-only checks over its SSH connection, all at once and each bounded in
 * time (transport/probes.ts): every service's readiness command from the
 * registry and its unit's state, the host's addresses, the agent's state
 * JSON, its etcd member's status, member list, alarms and the VIP keys (a
 * serializable read: a member cut off from the quorum still says what it
 * knows), its apiserver's /readyz. A second round asks what needs the first:
 * the VIP leases' time to live, a host not holding a VIP who answers ARP for
 * it, and on request the members' key-space hashes at one revision. A host
 * that cannot be reached is a row that says why; nothing waits for it.
 */

import type { AgentState } from "../agent/state.js";
import { AGENT_METRICS_PORT, HostPki, pkiPath } from "../core/host-paths.js";
import { httpsUrl } from "../core/ip.js";
import { pkiDirOf } from "../core/state-dir.js";
import type { ClusterContext, ClusterHost } from "../deploy/context.js";
import type { EtcdClient } from "../etcd/client.js";
import {
  etcdctlCommand,
  parseAlarms,
  parseEndpointStatus,
  parseGetJson,
  parseHashKv,
  parseMemberListJson,
} from "../etcd/etcdctl.js";
import { VIP_PREFIX } from "../etcd/keyspace.js";
import { defaultSnapshotDir, listSnapshots } from "../etcd/snapshot-file.js";
import { LIST_COMMAND, parseHostSnapshots } from "../etcd/snapshot-host.js";
import { clientUrl } from "../etcd/urls.js";
import { type CertRow, checkCerts } from "../pki/check.js";
import { agent as agentService } from "../services/agent.js";
import { apiserver, controllerManager, scheduler } from "../services/control-plane.js";
import { etcd as etcdService } from "../services/etcd.js";
import { ingressController } from "../services/ingress.js";
import { servicesOn } from "../services/registry.js";
import { floatingAddresses } from "../spec/vips.js";
import { type ProbeResult, runProbes } from "../transport/probes.js";
import type {
  ArpObservation,
  ClusterObservation,
  DirectMember,
  HostObservation,
  MemberObservation,
  ObserveOptions,
  ServiceObservation,
  VipKey,
  VipKeyValue,
} from "./observation.js";
import { externalEndpoint, leaders, readMembersDirect } from "./operator-reads.js";

/**
 * Services whose readiness command a round runs: those plan's capabilities
 * count and those the status tables show. The others are judged by their
 * unit's state (one systemctl for all) and the agent by its state JSON
 * answering: on a lab host sharing two cores with six others, every process
 * a round forks is felt.
 */
const READINESS_RUN: ReadonlySet<string> = new Set(
  [etcdService, apiserver, controllerManager, scheduler, ingressController].map((s) => s.name),
);

/** How long one check may take on a host, seconds. */
const PROBE_SECONDS = 8;

const okText = (r: ProbeResult | undefined) => (r && r.code === 0 ? r.stdout : undefined);
const parsed = <T>(r: ProbeResult | undefined, parse: (s: string) => T): T | undefined => {
  const text = okText(r);
  if (text === undefined) return undefined;
  try {
    return parse(text);
  } catch {
    return undefined;
  }
};
const firstLine = (s: string) => s.trim().split("\n")[0]?.slice(0, 200) ?? "";

/** The VIPs `host` asks ARP for: those it may not hold itself, at most two askers per VIP (arping only waits). */
function arpAskers(ctx: ClusterContext): Map<string, string[]> {
  const askers = new Map<string, string[]>();
  for (const vip of floatingAddresses(ctx.cluster)) {
    const outsiders = ctx.hosts.filter((h) => !vip.candidates.some((c) => c.name === h.spec.name));
    const from = (outsiders.length > 0 ? outsiders : [...ctx.hosts].reverse()).slice(0, 2);
    for (const h of from) askers.set(h.spec.name, [...(askers.get(h.spec.name) ?? []), vip.address]);
  }
  return askers;
}

/** The checks a round runs on `host`. */
function hostProbes(
  ctx: ClusterContext,
  host: ClusterHost,
  arp: readonly string[] = [],
  etcdReadDirectly = false,
): Map<string, string> {
  const { cluster } = ctx;
  const probes = new Map<string, string>();
  const services = servicesOn(cluster, host.spec);
  const judged = services.filter((s) => READINESS_RUN.has(s.name) || !s.unit(cluster));
  for (const s of judged.filter((s) => !(etcdReadDirectly && s.name === etcdService.name)))
    probes.set(`ready:${s.name}`, s.readiness(cluster, host.spec));
  const units = services.flatMap((s) => s.unit(cluster) ?? []);
  if (units.length > 0) probes.set("active", `systemctl is-active ${units.join(" ")}`);
  probes.set("net", "ip -o addr show; ip -o link show");
  probes.set("agent", `curl -sf -m 2 http://127.0.0.1:${AGENT_METRICS_PORT}/state`);
  if (host.spec.roles.includes("etcd") && !etcdReadDirectly) {
    probes.set("etcd-status", etcdctlCommand("endpoint status -w json"));
    probes.set("etcd-members", etcdctlCommand("member list -w json"));
    probes.set("etcd-alarms", etcdctlCommand("alarm list"));
    probes.set("etcd-vips", etcdctlCommand(`get ${VIP_PREFIX} --prefix --consistency=s -w json`));
  }
  if (host.spec.roles.includes("etcd")) probes.set("snapshots", LIST_COMMAND);
  if (host.spec.roles.includes("controlplane")) {
    const url = `${httpsUrl(host.spec.address, cluster.controlPlane.apiserverPort)}/readyz`;
    probes.set(
      "readyz",
      `curl -s -o /dev/null -m 2 -w '%{http_code} %{time_total}' --cacert ${pkiPath(HostPki.ca.cert)} '${url}'`,
    );
  }
  for (const vip of arp) {
    // the interface the VIP's segment is on; arping (iputils) prints each reply with the answering MAC
    probes.set(
      `arp:${vip}`,
      `command -v arping >/dev/null || { echo 'arping is not installed'; exit 3; }; dev=$(ip -o route get ${vip} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'); arping -c 2 -w 2 -I "$dev" ${vip}; true`,
    );
  }
  return probes;
}

function readHost(
  ctx: ClusterContext,
  host: ClusterHost,
  results: Map<string, ProbeResult>,
  direct?: DirectMember,
): { obs: HostObservation; vipKeys?: readonly VipKeyValue[] } {
  const { cluster } = ctx;
  const services = servicesOn(cluster, host.spec);
  const active = (okText(results.get("active")) ?? results.get("active")?.stdout ?? "").trim().split("\n");
  let unitIndex = 0;
  const serviceRows: ServiceObservation[] = services.map((s) => {
    const unit = s.unit(cluster);
    const state = unit ? (active[unitIndex++] ?? "unknown") : undefined;
    return {
      name: s.name,
      ...(unit && { unit, active: state }),
      ready:
        s.name === agentService.name
          ? results.get("agent")?.code === 0
          : s.name === etcdService.name && direct
            ? direct.healthy
            : results.has(`ready:${s.name}`)
              ? results.get(`ready:${s.name}`)?.code === 0
              : state === "active",
    };
  });
  const net = okText(results.get("net")) ?? "";
  const addresses = [...net.matchAll(/\sinet6?\s+([0-9a-fA-F.:]+)\//g)].map((m) => m[1] as string);
  const macs = [
    ...new Set(
      [...net.matchAll(/link\/ether\s+([0-9a-fA-F:]{17})/g)].map((m) => (m[1] as string).toLowerCase()),
    ),
  ];
  let member: MemberObservation | undefined;
  let vipKeys: readonly VipKeyValue[] | undefined;
  if (direct?.status) {
    member = {
      status: direct.status,
      ...(direct.members && {
        members: direct.members.map((m) => (m.isLearner ? `${m.name} (learner)` : m.name)).sort(),
      }),
      alarms: direct.alarms ?? [],
    };
    vipKeys = direct.vipKeys?.map((kv) => ({ key: kv.key, value: kv.value, lease: String(kv.lease) }));
  } else if (host.spec.roles.includes("etcd")) {
    const statusResult = results.get("etcd-status");
    const status = parsed(statusResult, parseEndpointStatus)?.[0];
    const members = parsed(results.get("etcd-members"), parseMemberListJson);
    member = {
      ...(status
        ? { status }
        : { error: firstLine(statusResult?.stdout ?? "") || `etcdctl exit ${statusResult?.code}` }),
      ...(members && {
        members: members.map((m) => (m.isLearner ? `${m.name} (learner)` : m.name)).sort(),
      }),
      alarms: parsed(results.get("etcd-alarms"), parseAlarms) ?? [],
    };
    vipKeys = parsed(results.get("etcd-vips"), parseGetJson);
  }
  const readyz = okText(results.get("readyz"))?.trim().split(" ");
  const agent = parsed(results.get("agent"), (s) => JSON.parse(s) as AgentState);
  return {
    obs: {
      name: host.spec.name,
      address: host.spec.address,
      roles: host.spec.roles,
      services: serviceRows,
      addresses,
      macs,
      ...(agent && { agent }),
      ...(member && { etcd: member }),
      ...(results.has("snapshots") && {
        snapshots: parseHostSnapshots(host.spec.name, results.get("snapshots")?.stdout ?? ""),
      }),
      ...(host.spec.roles.includes("controlplane") && {
        apiserver: {
          code: Number(readyz?.[0] ?? 0),
          ms: Math.round(Number(readyz?.[1] ?? 0) * 1000),
        },
      }),
    },
    ...(vipKeys && { vipKeys }),
  };
}

const unreachableHost = (host: ClusterHost, why: string): HostObservation => ({
  name: host.spec.name,
  address: host.spec.address,
  roles: host.spec.roles,
  unreachable: why,
  services: [],
  addresses: [],
  macs: [],
});

/**
 * Connects to every host it has no connection to yet (bounded by the
 * connector's timeout); failures are kept as the host's reason.
 */
async function connectAll(ctx: ClusterContext, failures: Map<string, string>): Promise<void> {
  failures.clear();
  await Promise.all(
    ctx.hosts
      .filter((h) => !h.transport)
      .map(async (h) => {
        try {
          h.transport = await ctx.connect(h.spec, ctx);
        } catch (err) {
          // a host error already starts with the host's name, which the row says
          failures.set(h.spec.name, (err as Error).message.replace(new RegExp(`^${h.spec.name}: `), ""));
        }
      }),
  );
}

/** What asking ARP for `vip` from `host` found (the answering MACs), from the round's result. */
function arpAnswer(host: string, vip: string, r: ProbeResult | undefined): ArpObservation {
  const macs = [
    ...new Set(
      [...(r?.stdout ?? "").matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => (m[1] as string).toLowerCase()),
    ),
  ];
  return {
    vip,
    observer: host,
    macs,
    ...(r?.code !== 0 && { skipped: `${host}: ${firstLine(r?.stdout ?? "") || "arping failed"}` }),
  };
}

/** One status round over `ctx`: connects where needed and reads every host at once. */
export async function observe(
  ctx: ClusterContext,
  opts: ObserveOptions = {},
  now = Date.now(),
): Promise<ClusterObservation> {
  const certificates = opts.skipCertificates
    ? Promise.resolve([] as CertRow[])
    : checkCerts(ctx.cluster, pkiDirOf(ctx.stateDir), new Date(now)).catch(() => [] as CertRow[]);
  const external = externalEndpoint(ctx);
  const failures = new Map<string, string>();
  const [direct] = await Promise.all([
    opts.etcd ? readMembersDirect(ctx, opts.etcd) : new Map<string, DirectMember>(),
    connectAll(ctx, failures),
  ]);
  const askers = arpAskers(ctx);
  const arp: ArpObservation[] = [];
  const rounds = await Promise.all(
    ctx.hosts.map(async (h) => {
      if (!h.transport) return { obs: unreachableHost(h, failures.get(h.spec.name) ?? "not connected") };
      const vips = askers.get(h.spec.name) ?? [];
      const member = direct.get(h.spec.name);
      const results = await runProbes(
        h.transport,
        hostProbes(ctx, h, vips, member !== undefined),
        PROBE_SECONDS,
      );
      if ([...results.values()].every((r) => r.code === 255)) {
        // the connection is gone: drop it so the next round reconnects
        const why = results.values().next().value?.stdout ?? "no answer";
        await h.transport.close().catch(() => {});
        delete h.transport;
        return { obs: unreachableHost(h, why) };
      }
      for (const vip of vips) arp.push(arpAnswer(h.spec.name, vip, results.get(`arp:${vip}`)));
      return readHost(ctx, h, results, member);
    }),
  );
  const hosts = rounds.map((r) => r.obs);
  const keySource = rounds.find((r) => r.vipKeys);
  const vipKeys = keySource?.vipKeys?.map(
    (k): VipKey => ({
      name: k.key.slice(VIP_PREFIX.length),
      holder: k.value,
      lease: k.lease,
    }),
  );
  const [leaderInfo, hashKv] = await Promise.all([
    leaders(ctx, hosts),
    opts.hashKv ? compareHashes(ctx, hosts, opts.etcd) : undefined,
  ]);
  const ext = await external;
  return {
    time: now,
    hosts,
    ...(vipKeys && { vipKeys }),
    arp: mergeArp(arp),
    ...(hashKv && { hashKv }),
    leaders: leaderInfo,
    ...(ext && { external: ext }),
    certificates: await certificates,
    savedSnapshots: listSnapshots(defaultSnapshotDir(ctx.stateDir)).map((s) => ({
      name: s.path,
      time: s.manifest ? Date.parse(s.manifest.takenAt) : s.mtime.getTime(),
    })),
  };
}

/** One row per VIP: the MACs every asker heard, and why not when nobody could ask. */
function mergeArp(answers: readonly ArpObservation[]): ArpObservation[] {
  const byVip = new Map<string, ArpObservation[]>();
  for (const a of answers) byVip.set(a.vip, [...(byVip.get(a.vip) ?? []), a]);
  return [...byVip].map(([vip, list]) => {
    const asked = list.filter((a) => !a.skipped);
    if (asked.length === 0) return { vip, macs: [], skipped: list.map((a) => a.skipped).join("; ") };
    return {
      vip,
      observer: asked.map((a) => a.observer).join(", "),
      macs: [...new Set(asked.flatMap((a) => a.macs))],
    };
  });
}

/** Each member's hash of its key space at the lowest revision they all have, asked through one member. */
async function compareHashes(
  ctx: ClusterContext,
  hosts: readonly HostObservation[],
  etcd: EtcdClient | undefined,
): Promise<ClusterObservation["hashKv"]> {
  const statuses = hosts.flatMap((h) => (h.etcd?.status ? [{ host: h, status: h.etcd.status }] : []));
  const revision = Math.min(...statuses.map((s) => s.status.revision));
  const members = ctx.etcdMembers().map((m) => m.spec.name);
  if (etcd && statuses.length > 0) {
    // over gRPC from here when every member that answered did so there
    const hashes = await Promise.all(
      statuses.map((s) => etcd.hashKv(members.indexOf(s.host.name), revision).catch(() => undefined)),
    );
    if (hashes.every((h) => h !== undefined))
      return {
        revision,
        hashes: Object.fromEntries(statuses.map((s, i) => [s.host.name, hashes[i] as number])),
      };
  }
  const via = ctx.hosts.find((h) => h.spec.name === statuses[0]?.host.name)?.transport;
  if (!via) return { revision: 0, hashes: {}, error: "no member answered" };
  const endpoints = statuses.map((s) => clientUrl(s.host)).join(",");
  const r = await via.exec(etcdctlCommand(`endpoint hashkv --rev=${revision} -w json`, endpoints), {
    timeoutMs: PROBE_SECONDS * 1000,
  });
  const list = parsed(r, parseHashKv);
  if (!list)
    return {
      revision,
      hashes: {},
      error: firstLine(r.stderr || r.stdout) || "etcdctl endpoint hashkv failed",
    };
  const nameOf = (endpoint: string) =>
    statuses.find((s) => clientUrl(s.host) === endpoint)?.host.name ?? endpoint;
  return { revision, hashes: Object.fromEntries(list.map((h) => [nameOf(h.endpoint), h.hash])) };
}
