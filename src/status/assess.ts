/**
 * From what a status round saw to verdicts, with no I/O: each capability of
 * plan's model (plan/capabilities.ts) counts its hosts alive by the readiness
 * of the service its requirement names, so `status` and `plan --what-if`
 * speak of the same thing; a VIP with no holder or two, a host out of reach,
 * a service not ready, a load-balancer backend down, an etcd alarm or
 * disagreement are problems that make the cluster at least degraded. It is
 * never "healthy" while anything it knows of is missing.
 */
import { type Capability, capabilitiesOf } from "../plan/capabilities.js";
import type { Cluster } from "../spec/defaults.js";
import { floatingAddresses } from "../spec/vips.js";
import { certificateRows, snapshotSummary } from "./assess-upkeep.js";
import type { ClusterObservation, HostObservation } from "./observation.js";
import {
  type ApiserverRow,
  type BackendRow,
  type CapabilityStatus,
  type CapabilityVerdict,
  type MemberRow,
  type Problem,
  type RequirementStatus,
  STATUS_EXIT,
  type StatusReport,
  type Verdict,
  type VipRow,
} from "./report.js";

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;
const iso = (ms: number) => new Date(ms).toISOString();

function serviceReady(host: HostObservation, service: string): boolean {
  return host.services.some((s) => s.name === service && s.ready);
}

function etcdRows(hosts: readonly HostObservation[]): StatusReport["etcd"] & { problems: Problem[] } {
  const problems: Problem[] = [];
  const members = hosts.filter((h) => h.roles.includes("etcd"));
  const statuses = members.flatMap((h) => (h.etcd?.status ? [h.etcd.status] : []));
  // the leader as the members with the highest term say
  const term = Math.max(0, ...statuses.map((s) => s.raftTerm));
  const leaderId = statuses.find((s) => s.raftTerm === term && s.leader !== "0")?.leader;
  const leaderStatus = statuses.find((s) => s.memberId === leaderId);
  const rows: MemberRow[] = members.map((h) => {
    const s = h.etcd?.status;
    const error = h.unreachable ? "host unreachable" : h.etcd?.error;
    return {
      host: h.name,
      leader: s !== undefined && s.memberId === leaderId,
      learner: s?.isLearner ?? false,
      alarms: h.etcd?.alarms ?? [],
      ...(s && {
        id: s.memberId,
        term: s.raftTerm,
        raftIndex: s.raftIndex,
        ...(leaderStatus && { lag: Math.max(0, leaderStatus.raftIndex - s.raftIndex) }),
        revision: s.revision,
        dbSize: s.dbSize,
        dbSizeInUse: s.dbSizeInUse,
        version: s.version,
      }),
      ...(h.etcd?.members && { members: h.etcd.members }),
      ...(error && !s && { error }),
    };
  });
  const lists = rows.flatMap((r) => (r.members ? [r.members.join(",")] : []));
  const agree = new Set(lists).size <= 1;
  const want = members
    .map((h) => h.name)
    .sort()
    .join(",");
  if (!agree)
    problems.push({
      severity: "degraded",
      subject: "etcd",
      message: `members disagree on the member list: ${rows
        .filter((r) => r.members)
        .map((r) => `${r.host} lists [${r.members?.join(", ")}]`)
        .join("; ")}`,
    });
  else if (lists[0] !== undefined && lists[0] !== want)
    problems.push({
      severity: "degraded",
      subject: "etcd",
      message: `the members are [${lists[0].split(",").join(", ")}], the spec wants [${want.split(",").join(", ")}]; run \`kubeha up\` to converge`,
    });
  for (const r of rows) {
    for (const alarm of r.alarms)
      problems.push({ severity: "degraded", subject: r.host, message: `etcd alarm ${alarm}` });
    if (r.learner)
      problems.push({ severity: "degraded", subject: r.host, message: "etcd member is still a learner" });
  }
  const leaderHost = rows.find((r) => r.leader)?.host;
  return { members: rows, ...(leaderHost && { leader: leaderHost }), memberListsAgree: agree, problems };
}

function vipRows(cluster: Cluster, obs: ClusterObservation): { rows: VipRow[]; problems: Problem[] } {
  const problems: Problem[] = [];
  const macOwner = new Map<string, string>();
  for (const h of obs.hosts) for (const m of h.macs) macOwner.set(m, h.name);
  const rows = floatingAddresses(cluster).map((vip): VipRow => {
    const onHosts = obs.hosts.filter((h) => h.addresses.includes(vip.address)).map((h) => h.name);
    const key = obs.vipKeys?.find((k) => k.name === vip.name);
    const arp = obs.arp.find((a) => a.vip === vip.address) ?? {
      vip: vip.address,
      macs: [],
      skipped: "no host that could ask was reachable",
    };
    const answeredBy = [...new Set((arp?.macs ?? []).map((m) => macOwner.get(m) ?? m))];
    const holderAgent = obs.hosts
      .flatMap((h) =>
        (h.agent?.vips ?? []).filter((v) => v.name === vip.name).map((v) => ({ host: h.name, v })),
      )
      .sort((a, b) => b.v.lastTransition - a.v.lastTransition);
    // the agent that says it holds it, on a host that has the address when one does
    const took =
      holderAgent.find((a) => a.v.holder && onHosts.includes(a.host)) ??
      holderAgent.find((a) => a.v.holder) ??
      holderAgent[0];
    if (onHosts.length === 0)
      problems.push({ severity: "degraded", subject: vip.title, message: `no host holds the ${vip.title}` });
    if (onHosts.length > 1)
      problems.push({
        severity: "degraded",
        subject: vip.title,
        message: `SPLIT BRAIN: ${onHosts.join(" and ")} all have ${vip.address} on an interface`,
      });
    if (answeredBy.length > 1)
      problems.push({
        severity: "degraded",
        subject: vip.title,
        message: `SPLIT BRAIN: ${answeredBy.join(" and ")} answer ARP for ${vip.address} (asked from ${arp?.observer})`,
      });
    if (key?.holder && onHosts.length === 1 && key.holder !== onHosts[0])
      problems.push({
        severity: "degraded",
        subject: vip.title,
        message: `etcd says ${key.holder} holds the ${vip.title} but ${onHosts[0]} has the address`,
      });
    return {
      name: vip.name,
      title: vip.title,
      address: vip.address,
      ...(key && { keyHolder: key.holder }),
      onHosts,
      ...(took?.v.leaseAgeMs !== undefined && {
        lease: { ttlSeconds: took.v.leaseTtlSeconds, renewedMsAgo: took.v.leaseAgeMs },
      }),
      ...(took && took.v.lastTransition > 0 && { lastMove: iso(took.v.lastTransition) }),
      arp: {
        ...(arp?.observer && { observer: arp.observer }),
        answeredBy,
        ...(arp?.skipped && { skipped: arp.skipped }),
      },
    };
  });
  return { rows, problems };
}

function capabilityStatus(
  cap: Capability,
  hosts: readonly HostObservation[],
  vips: readonly VipRow[],
  obs: ClusterObservation,
): CapabilityStatus {
  if (!cap.configured)
    return {
      name: cap.name,
      title: cap.title,
      verdict: "not configured",
      requirements: [],
      detail: "no hosts for it in the spec",
    };
  const requirements = cap.requires.map((r): RequirementStatus => {
    const alive = r.hosts.filter((name) => {
      const h = hosts.find((o) => o.name === name);
      return h !== undefined && serviceReady(h, r.service);
    });
    return {
      what: r.what,
      service: r.service,
      hosts: r.hosts,
      alive,
      atLeast: r.atLeast,
      canLoseMore: alive.length - r.atLeast,
    };
  });
  let verdict: CapabilityVerdict = requirements.some((r) => r.canLoseMore < 0)
    ? "down"
    : requirements.some((r) => r.alive.length < r.hosts.length)
      ? "degraded"
      : "up";
  const notes: string[] = [];
  const worsen = (to: "degraded" | "down", note: string) => {
    notes.push(note);
    if (verdict === "down") return;
    if (to === "down" || verdict === "up") verdict = to;
  };
  const role = cap.name === "api" ? "controlplane" : cap.name === "ingress" ? "edge" : undefined;
  const own = vips.filter((v) => floatingRole(v) === role);
  if (cap.name === "api" && obs.external) {
    if (obs.external.code !== 200)
      worsen(
        "down",
        `the external load balancer ${obs.external.url} does not answer ready (${obs.external.error})`,
      );
  }
  const unheld = own.filter((v) => v.onHosts.length === 0);
  if (unheld.length > 0 && unheld.length === own.length)
    worsen(
      "down",
      unheld.length === 1 ? `no host holds the ${unheld[0]?.title}` : "no host holds any ingress VIP",
    );
  else if (unheld.length > 0) worsen("degraded", `unheld: ${unheld.map((v) => v.address).join(", ")}`);
  for (const v of own.filter((v) => v.onHosts.length > 1 || v.arp.answeredBy.length > 1))
    worsen("degraded", `split brain on ${v.address}`);
  const detail = [
    ...requirements.map(
      (r) =>
        `${r.alive.length} of ${plural(r.hosts.length, r.what.replace(/s$/, ""), r.what)} alive, ${
          r.canLoseMore >= 0 ? `can lose ${r.canLoseMore} more` : `needs ${r.atLeast}`
        }`,
    ),
    ...notes,
  ].join("; ");
  return { name: cap.name, title: cap.title, verdict, requirements, detail };
}

/** Which role's hosts a VIP floats over: the API VIP is named "api". */
const floatingRole = (v: VipRow) => (v.name === "api" ? "controlplane" : "edge");

function hostProblems(hosts: readonly HostObservation[]): Problem[] {
  const out: Problem[] = [];
  for (const h of hosts) {
    if (h.unreachable) {
      out.push({ severity: "degraded", subject: h.name, message: `unreachable: ${h.unreachable}` });
      continue;
    }
    const notReady = h.services.filter((s) => !s.ready || (s.active !== undefined && s.active !== "active"));
    for (const s of notReady)
      out.push({
        severity: "degraded",
        subject: h.name,
        message: `${s.unit ?? s.name} ${s.active !== undefined && s.active !== "active" ? `is ${s.active}` : "is not ready"}`,
      });
  }
  return out;
}

function backendRows(hosts: readonly HostObservation[]): { rows: BackendRow[]; problems: Problem[] } {
  const rows: BackendRow[] = [];
  for (const h of hosts) {
    for (const f of h.agent?.frontends ?? []) {
      for (const b of f.backends.filter((b) => !b.removed))
        rows.push({
          host: h.name,
          frontend: f.name,
          listen: f.listen,
          backend: b.endpoint,
          state: b.state,
          since: iso(b.since),
        });
    }
  }
  const down = new Map<string, BackendRow[]>();
  for (const r of rows.filter((r) => r.state === "down"))
    down.set(r.backend, [...(down.get(r.backend) ?? []), r]);
  const problems = [...down].map(
    ([backend, seen]): Problem => ({
      severity: "degraded",
      subject: backend,
      message: `backend down on the load balancers of ${seen.map((r) => r.host).join(", ")} (since ${
        seen.map((r) => r.since).sort()[0]
      })`,
    }),
  );
  return { rows, problems };
}

/** The report for one round. */
export function assess(cluster: Cluster, obs: ClusterObservation): StatusReport {
  const etcd = etcdRows(obs.hosts);
  const vips = vipRows(cluster, obs);
  const lbs = backendRows(obs.hosts);
  const problems: Problem[] = [
    ...hostProblems(obs.hosts),
    ...etcd.problems,
    ...vips.problems,
    ...lbs.problems,
  ];
  let hashKv: StatusReport["etcd"]["hashKv"];
  if (obs.hashKv) {
    const agree = !obs.hashKv.error && new Set(Object.values(obs.hashKv.hashes)).size === 1;
    hashKv = { ...obs.hashKv, agree };
    if (!agree)
      problems.push({
        severity: "degraded",
        subject: "etcd",
        message: obs.hashKv.error
          ? `hashkv could not be compared: ${obs.hashKv.error}`
          : `members' key-space hashes differ at revision ${obs.hashKv.revision}: ${Object.entries(
              obs.hashKv.hashes,
            )
              .map(([h, v]) => `${h} ${v}`)
              .join(", ")}`,
      });
  }
  if (obs.external?.error)
    problems.push({
      severity: "down",
      subject: "API endpoint",
      message: `${obs.external.url}: ${obs.external.error}`,
    });
  const apiservers: ApiserverRow[] = obs.hosts
    .filter((h) => h.roles.includes("controlplane"))
    .map((h) => {
      const svc = (name: string) => h.services.find((s) => s.name === name)?.ready;
      const cm = svc("controller-manager");
      const sched = svc("scheduler");
      return {
        host: h.name,
        ready: h.apiserver?.code === 200,
        code: h.apiserver?.code ?? 0,
        ms: h.apiserver?.ms ?? 0,
        ...(cm !== undefined && { controllerManager: cm }),
        ...(sched !== undefined && { scheduler: sched }),
      };
    });
  const certificates = certificateRows(obs.certificates, problems);
  const snapshots = snapshotSummary(cluster, obs, problems);
  const capabilities = capabilitiesOf(cluster).map((c) => capabilityStatus(c, obs.hosts, vips.rows, obs));
  problems.unshift(
    ...capabilities
      .filter((c) => c.verdict === "down")
      .map((c): Problem => ({ severity: "down", subject: c.title, message: `down: ${c.detail}` })),
  );
  const verdict: Verdict =
    capabilities.some((c) => c.verdict === "down") || problems.some((p) => p.severity === "down")
      ? "down"
      : capabilities.some((c) => c.verdict === "degraded") || problems.some((p) => p.severity === "degraded")
        ? "degraded"
        : "healthy";
  return {
    apiVersion: "kubeha/v1alpha1",
    kind: "Status",
    cluster: cluster.name,
    time: iso(obs.time),
    verdict,
    exitCode: STATUS_EXIT[verdict],
    capabilities,
    problems,
    hosts: obs.hosts.map((h) => ({
      name: h.name,
      address: h.address,
      roles: h.roles,
      reachable: !h.unreachable,
      ...(h.unreachable && { error: h.unreachable }),
      services: h.services,
    })),
    etcd: {
      members: etcd.members,
      ...(etcd.leader && { leader: etcd.leader }),
      memberListsAgree: etcd.memberListsAgree,
      ...(hashKv && { hashKv }),
    },
    apiservers,
    leaders: obs.leaders,
    ...(obs.external && { external: obs.external }),
    vips: vips.rows,
    loadBalancers: lbs.rows,
    certificates,
    snapshots,
  };
}
