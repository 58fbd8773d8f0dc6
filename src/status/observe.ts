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

import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import type { AgentState } from "../agent/state.js";
import { AGENT_METRICS_PORT, HostPki, pkiPath } from "../core/host-paths.js";
import { httpsUrl } from "../core/ip.js";
import { pkiDirOf } from "../core/state-dir.js";
import type { ClusterContext, ClusterHost } from "../deploy/context.js";
import {
  type EndpointStatus,
  etcdctlCommand,
  parseAlarms,
  parseEndpointStatus,
  parseGetJson,
  parseHashKv,
  parseMemberListJson,
  parseTimeToLive,
} from "../etcd/etcdctl.js";
import { VIP_PREFIX } from "../etcd/keyspace.js";
import { clientUrl } from "../etcd/urls.js";
import { type CertRow, checkCerts } from "../pki/check.js";
import { ADMIN_CONF, CAS } from "../pki/inventory.js";
import { parseKubeconfig } from "../pki/kubeconfig.js";
import { servicesOn } from "../services/registry.js";
import { floatingAddresses } from "../spec/vips.js";
import { type ProbeResult, runProbes } from "../transport/probes.js";

/** How long one check may take on a host, seconds. */
const PROBE_SECONDS = 3;

/** One service on one host. */
export interface ServiceObservation {
  /** The registry's name: etcd, apiserver, agent, kubelet ... */
  readonly name: string;
  readonly unit?: string;
  /** `systemctl is-active` of its unit: active, inactive, failed, activating ... */
  readonly active?: string;
  /** Its readiness command passed. */
  readonly ready: boolean;
}

/** One etcd member, as it answers on its own host. */
export interface MemberObservation {
  readonly status?: EndpointStatus;
  /** Why the member did not answer its status. */
  readonly error?: string;
  /** The member names its member list holds, sorted (learners marked "name (learner)"). */
  readonly members?: readonly string[];
  readonly alarms: readonly string[];
}

/** One host. */
export interface HostObservation {
  readonly name: string;
  readonly address: string;
  readonly roles: readonly string[];
  /** Why it could not be read; the other fields are empty then. */
  readonly unreachable?: string;
  readonly services: readonly ServiceObservation[];
  readonly addresses: readonly string[];
  /** Link-layer addresses of its interfaces, to name who answers ARP. */
  readonly macs: readonly string[];
  readonly agent?: AgentState;
  readonly etcd?: MemberObservation;
  /** Its apiserver's GET /readyz: HTTP code (0: no answer) and time taken. */
  readonly apiserver?: { readonly code: number; readonly ms: number };
}

/** A VIP's election key, as etcd holds it. */
export interface VipKey {
  readonly name: string;
  /** The holder's host name; "" after a clean hand-over. */
  readonly holder: string;
  readonly lease: string;
  /** Seconds the lease has left and was granted with, when it could be read. */
  readonly ttl?: number;
  readonly grantedTtl?: number;
  /** The host whose member answered. */
  readonly readFrom: string;
}

/** Who answered an ARP request for a VIP, asked from a host that does not hold it. */
export interface ArpObservation {
  readonly vip: string;
  readonly observer?: string;
  readonly macs: readonly string[];
  /** Why it was not asked, or why asking failed. */
  readonly skipped?: string;
}

/** Everything one status round saw. */
export interface ClusterObservation {
  /** When the round started, ms since the epoch. */
  readonly time: number;
  readonly hosts: readonly HostObservation[];
  /** The VIP election keys (undefined: no member could be read). */
  readonly vipKeys?: readonly VipKey[];
  readonly arp: readonly ArpObservation[];
  /** Each member's hash of its key space at one revision, on request. */
  readonly hashKv?: {
    readonly revision: number;
    readonly hashes: Readonly<Record<string, number>>;
    readonly error?: string;
  };
  /** Who leads the controller-manager and the scheduler, by their leases in the API, or why that is unknown. */
  readonly leaders: {
    readonly controllerManager?: string;
    readonly scheduler?: string;
    readonly unknown?: string;
  };
  /** An external load balancer's answer to /readyz (endpoint mode external). */
  readonly external?: {
    readonly url: string;
    readonly code: number;
    readonly ms: number;
    readonly error?: string;
  };
  readonly certificates: readonly CertRow[];
}

export interface ObserveOptions {
  /** Compare the members' key-space hashes (etcdctl endpoint hashkv). */
  readonly hashKv?: boolean;
}

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

/** The first round's checks on `host`. */
function hostProbes(ctx: ClusterContext, host: ClusterHost): Map<string, string> {
  const { cluster } = ctx;
  const probes = new Map<string, string>();
  const services = servicesOn(cluster, host.spec);
  for (const s of services) probes.set(`ready:${s.name}`, s.readiness(cluster, host.spec));
  const units = services.flatMap((s) => s.unit(cluster) ?? []);
  if (units.length > 0) probes.set("active", `systemctl is-active ${units.join(" ")}`);
  probes.set("addr", "ip -o addr show");
  probes.set("mac", "cat /sys/class/net/*/address");
  probes.set("agent", `curl -sf -m 2 http://127.0.0.1:${AGENT_METRICS_PORT}/state`);
  if (host.spec.roles.includes("etcd")) {
    probes.set("etcd-status", etcdctlCommand("endpoint status -w json"));
    probes.set("etcd-members", etcdctlCommand("member list -w json"));
    probes.set("etcd-alarms", etcdctlCommand("alarm list"));
    probes.set("etcd-vips", etcdctlCommand(`get ${VIP_PREFIX} --prefix --consistency=s -w json`));
  }
  if (host.spec.roles.includes("controlplane")) {
    const url = `${httpsUrl(host.spec.address, cluster.controlPlane.apiserverPort)}/readyz`;
    probes.set(
      "readyz",
      `curl -s -o /dev/null -m 2 -w '%{http_code} %{time_total}' --cacert ${pkiPath(HostPki.ca.cert)} '${url}'`,
    );
  }
  return probes;
}

function readHost(
  ctx: ClusterContext,
  host: ClusterHost,
  results: Map<string, ProbeResult>,
): { obs: HostObservation; vipKeys?: ReturnType<typeof parseGetJson> } {
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
      ready: results.get(`ready:${s.name}`)?.code === 0,
    };
  });
  const addresses = [...(okText(results.get("addr")) ?? "").matchAll(/\sinet6?\s+([0-9a-fA-F.:]+)\//g)].map(
    (m) => m[1] as string,
  );
  const macs = (okText(results.get("mac")) ?? "")
    .split("\n")
    .map((m) => m.trim().toLowerCase())
    .filter((m) => m && m !== "00:00:00:00:00:00");
  let etcd: MemberObservation | undefined;
  let vipKeys: ReturnType<typeof parseGetJson> | undefined;
  if (host.spec.roles.includes("etcd")) {
    const statusResult = results.get("etcd-status");
    const status = parsed(statusResult, parseEndpointStatus)?.[0];
    const members = parsed(results.get("etcd-members"), parseMemberListJson);
    etcd = {
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
      ...(etcd && { etcd }),
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

/** GET `url` over TLS (CA, and a client identity when given): code and body, or code 0 and why. */
function apiGet(
  tls: { ca?: string; cert?: string; key?: string },
  url: string,
  timeoutMs: number,
): Promise<{ code: number; body: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const done = (code: number, body: string) =>
      resolve({ code, body, ms: Math.round(performance.now() - t0) });
    const req = request(
      url,
      {
        timeout: timeoutMs,
        agent: false,
        ...tls,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("end", () => done(res.statusCode ?? 0, body));
      },
    );
    req.once("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.once("error", (err) => done(0, err.message));
    req.end();
  });
}

/** The controller-manager's and scheduler's leader election leases, read from a ready apiserver directly. */
async function leaders(
  ctx: ClusterContext,
  hosts: readonly HostObservation[],
): Promise<ClusterObservation["leaders"]> {
  const ready = hosts.find((h) => h.apiserver?.code === 200);
  if (!ready) return { unknown: "no apiserver is ready" };
  let kubeconfig: ReturnType<typeof parseKubeconfig>;
  try {
    kubeconfig = parseKubeconfig(readFileSync(join(pkiDirOf(ctx.stateDir), ADMIN_CONF), "utf8"));
  } catch {
    kubeconfig = undefined;
  }
  if (!kubeconfig) return { unknown: `no ${ADMIN_CONF} in the state directory ${ctx.stateDir}` };
  const base = `${httpsUrl(ready.address, ctx.cluster.controlPlane.apiserverPort)}/apis/coordination.k8s.io/v1/namespaces/kube-system/leases`;
  const read = async (name: string) => {
    const r = await apiGet(
      { ca: kubeconfig.caPem, cert: kubeconfig.certPem, key: kubeconfig.keyPem },
      `${base}/${name}`,
      2000,
    );
    if (r.code !== 200) return { why: `GET lease ${name} from ${ready.name}: ${r.code || r.body}` };
    const holder = (JSON.parse(r.body) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity ?? "";
    // the identity is "HOSTNAME_UUID"
    return { holder: holder.split("_")[0] ?? holder };
  };
  const [cm, sched] = await Promise.all([read("kube-controller-manager"), read("kube-scheduler")]);
  const why = [cm.why, sched.why].filter(Boolean);
  return {
    ...(cm.holder !== undefined && { controllerManager: cm.holder }),
    ...(sched.holder !== undefined && { scheduler: sched.holder }),
    ...(why.length > 0 && { unknown: why.join("; ") }),
  };
}

/** The external load balancer's /readyz, from this machine, verified against the cluster CA. */
async function externalEndpoint(ctx: ClusterContext): Promise<ClusterObservation["external"]> {
  const ep = ctx.cluster.controlPlane.endpoint;
  if (ep.mode !== "external") return undefined;
  const url = `${httpsUrl(ep.address, ep.port)}/readyz`;
  let ca: string | undefined;
  try {
    ca = readFileSync(join(pkiDirOf(ctx.stateDir), CAS.ca.cert), "utf8");
  } catch {
    ca = undefined;
  }
  const r = await apiGet(ca ? { ca } : {}, url, 3000);
  return {
    url,
    code: r.code,
    ms: r.ms,
    ...(r.code !== 200 && { error: r.code === 0 ? r.body : `HTTP ${r.code}` }),
  };
}

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
          failures.set(h.spec.name, (err as Error).message);
        }
      }),
  );
}

/** One status round over `ctx`: connects where needed, reads every host, then what depends on their answers. */
export async function observe(
  ctx: ClusterContext,
  opts: ObserveOptions = {},
  now = Date.now(),
): Promise<ClusterObservation> {
  const failures = new Map<string, string>();
  await connectAll(ctx, failures);
  const rounds = await Promise.all(
    ctx.hosts.map(async (h) => {
      if (!h.transport) return { obs: unreachableHost(h, failures.get(h.spec.name) ?? "not connected") };
      const probes = hostProbes(ctx, h);
      const results = await runProbes(h.transport, probes, PROBE_SECONDS);
      if ([...results.values()].every((r) => r.code === 255)) {
        // the connection is gone: drop it so the next round reconnects
        const why = results.values().next().value?.stdout ?? "no answer";
        await h.transport.close().catch(() => {});
        delete h.transport;
        return { obs: unreachableHost(h, why) };
      }
      return readHost(ctx, h, results);
    }),
  );
  const hosts = rounds.map((r) => r.obs);
  const byName = new Map(ctx.hosts.map((h) => [h.spec.name, h]));

  // the VIP keys from the first member that could read them
  const keySource = rounds.find((r) => r.vipKeys);
  const second = new Map<string, Map<string, string>>();
  const ask = (host: string, name: string, command: string) => {
    const probes = second.get(host) ?? new Map<string, string>();
    probes.set(name, command);
    second.set(host, probes);
  };
  const leases = [...new Set((keySource?.vipKeys ?? []).map((k) => k.lease).filter((l) => l !== "0"))];
  for (const lease of leases)
    ask(
      keySource?.obs.name ?? "",
      `ttl:${lease}`,
      etcdctlCommand(`lease timetolive ${BigInt(lease).toString(16)} -w json`),
    );

  // ARP for each VIP from a reachable host not holding it, a candidate first (it has arping)
  const arp: ArpObservation[] = [];
  for (const vip of floatingAddresses(ctx.cluster)) {
    const free = hosts.filter((h) => !h.unreachable && !h.addresses.includes(vip.address));
    const observer = free.find((h) => vip.candidates.some((c) => c.name === h.name)) ?? free[0];
    if (!observer) {
      arp.push({ vip: vip.address, macs: [], skipped: "no reachable host without the address to ask from" });
      continue;
    }
    arp.push({ vip: vip.address, observer: observer.name, macs: [] });
    ask(
      observer.name,
      `arp:${vip.address}`,
      `dev=$(ip -o route get ${vip.address} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p'); command -v arping >/dev/null || { echo 'arping is not installed'; exit 3; }; arping -c 2 -w 2 -I "$dev" ${vip.address}; true`,
    );
  }

  // the key-space hashes at the lowest revision every member has
  const statuses = hosts.flatMap((h) => (h.etcd?.status ? [{ host: h, status: h.etcd.status }] : []));
  const hashRevision = Math.min(...statuses.map((s) => s.status.revision));
  const hashVia = statuses[0]?.host.name;
  if (opts.hashKv && hashVia) {
    const endpoints = statuses.map((s) => clientUrl(s.host)).join(",");
    ask(hashVia, "hashkv", etcdctlCommand(`endpoint hashkv --rev=${hashRevision} -w json`, endpoints));
  }

  const answers = new Map<string, Map<string, ProbeResult>>();
  await Promise.all(
    [...second].map(async ([host, probes]) => {
      const t = byName.get(host)?.transport;
      if (t) answers.set(host, await runProbes(t, probes, PROBE_SECONDS));
    }),
  );
  const answer = (host: string | undefined, name: string) => answers.get(host ?? "")?.get(name);

  const vipKeys = keySource?.vipKeys?.map((k): VipKey => {
    const ttl =
      k.lease === "0" ? undefined : parsed(answer(keySource.obs.name, `ttl:${k.lease}`), parseTimeToLive);
    return {
      name: k.key.slice(VIP_PREFIX.length),
      holder: k.value,
      lease: k.lease,
      ...(ttl && { ttl: ttl.ttl, grantedTtl: ttl.grantedTtl }),
      readFrom: keySource.obs.name,
    };
  });
  for (const [i, a] of arp.entries()) {
    if (!a.observer) continue;
    const r = answer(a.observer, `arp:${a.vip}`);
    const macs = [
      ...new Set(
        [...(r?.stdout ?? "").matchAll(/\[([0-9A-Fa-f:]{17})\]/g)].map((m) => (m[1] as string).toLowerCase()),
      ),
    ];
    arp[i] = { ...a, macs, ...(r?.code !== 0 && { skipped: firstLine(r?.stdout ?? "") || "arping failed" }) };
  }
  let hashKv: ClusterObservation["hashKv"];
  if (opts.hashKv) {
    const r = answer(hashVia, "hashkv");
    const list = parsed(r, parseHashKv);
    const nameOf = (endpoint: string) =>
      statuses.find((s) => clientUrl(s.host) === endpoint)?.host.name ?? endpoint;
    hashKv = list
      ? { revision: hashRevision, hashes: Object.fromEntries(list.map((h) => [nameOf(h.endpoint), h.hash])) }
      : {
          revision: Number.isFinite(hashRevision) ? hashRevision : 0,
          hashes: {},
          error: hashVia
            ? firstLine(r?.stdout ?? "") || "etcdctl endpoint hashkv failed"
            : "no member answered",
        };
  }

  const [leaderInfo, external, certificates] = await Promise.all([
    leaders(ctx, hosts),
    externalEndpoint(ctx),
    checkCerts(ctx.cluster, pkiDirOf(ctx.stateDir), new Date(now)).catch(() => [] as CertRow[]),
  ]);
  return {
    time: now,
    hosts,
    ...(vipKeys && { vipKeys }),
    arp,
    ...(hashKv && { hashKv }),
    leaders: leaderInfo,
    ...(external && { external }),
    certificates,
  };
}
