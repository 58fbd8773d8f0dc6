/** Verdicts from observations: what a status round saw, judged without any host. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { servicesOn } from "../services/registry.js";
import type { Cluster } from "../spec/defaults.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { floatingAddresses } from "../spec/vips.js";
import { assess } from "./assess.js";
import { formatStatus } from "./format.js";
import type { ClusterObservation, HostObservation } from "./observation.js";

const NOW = Date.parse("2026-12-02T10:00:00Z");
const mac = (i: number) => `02:00:00:00:00:${i.toString(16).padStart(2, "0")}`;

/** What a round sees on a cluster where everything works: each VIP on its first candidate. */
function healthy(cluster: Cluster): ClusterObservation {
  const vips = floatingAddresses(cluster);
  const memberId = (name: string) => String(1000 + cluster.hosts.findIndex((h) => h.name === name));
  const members = cluster.hosts.filter((h) => h.roles.includes("etcd")).map((h) => h.name);
  const hosts = cluster.hosts.map((h, i): HostObservation => {
    const held = vips.filter((v) => v.candidates[0]?.name === h.name);
    return {
      name: h.name,
      address: h.address,
      roles: h.roles,
      services: servicesOn(cluster, h).map((s) => ({
        name: s.name,
        ...(s.unit(cluster) && { unit: s.unit(cluster), active: "active" }),
        ready: true,
      })),
      addresses: ["127.0.0.1", h.address, ...held.map((v) => v.address)],
      macs: [mac(i)],
      agent: {
        host: h.name,
        time: NOW,
        frontends: [
          {
            name: "api",
            listen: "127.0.0.1:6443",
            refused: 0,
            backends: cluster.hosts
              .filter((c) => c.roles.includes("controlplane"))
              .map((c) => ({
                endpoint: `${c.address}:6443`,
                state: "up" as const,
                since: NOW - 60_000,
                active: 1,
                removed: false,
              })),
          },
        ],
        vips: vips
          .filter((v) => v.candidates.some((c) => c.name === h.name))
          .map((v) => ({
            name: v.name,
            address: v.address,
            holder: held.includes(v),
            leaseTtlSeconds: 2,
            ...(held.includes(v) && { leaseAgeMs: 150 }),
            transitions: 1,
            lastTransition: NOW - 300_000,
          })),
      },
      ...(h.roles.includes("etcd") && {
        etcd: {
          status: {
            endpoint: "https://127.0.0.1:2379",
            clusterId: "7",
            memberId: memberId(h.name),
            leader: memberId("cp1"),
            revision: 100,
            raftTerm: 3,
            raftIndex: h.name === "cp1" ? 205 : 200,
            raftAppliedIndex: 200,
            dbSize: 2_000_000,
            dbSizeInUse: 1_000_000,
            isLearner: false,
            version: "3.4.23",
            errors: [],
          },
          members: [...members].sort(),
          alarms: [],
        },
      }),
      ...(h.roles.includes("controlplane") && { apiserver: { code: 200, ms: 4 } }),
    };
  });
  return {
    time: NOW,
    hosts,
    vipKeys: vips.map((v) => ({
      name: v.name,
      holder: v.candidates[0]?.name ?? "",
      lease: "42",
    })),
    arp: vips.map((v) => {
      const i = cluster.hosts.findIndex((h) => h.name === v.candidates[0]?.name);
      return { vip: v.address, observer: "w1", macs: [mac(i)] };
    }),
    leaders: { controllerManager: "cp2", scheduler: "cp3" },
    certificates: [],
    savedSnapshots: [],
  };
}

const cluster = loadObject(baseSpec()).cluster;
const withHost = (
  obs: ClusterObservation,
  name: string,
  change: (h: HostObservation) => HostObservation,
) => ({
  ...obs,
  hosts: obs.hosts.map((h) => (h.name === name ? change(h) : h)),
});
/** What observe() reports for a host it could not reach: its name and why, nothing else. */
const unreachable = (h: HostObservation): HostObservation => ({
  name: h.name,
  address: h.address,
  roles: h.roles,
  unreachable: `cannot reach ${h.address}:22: timed out`,
  services: [],
  addresses: [],
  macs: [],
});
const verdicts = (r: ReturnType<typeof assess>) =>
  Object.fromEntries(r.capabilities.map((c) => [c.name, c.verdict]));

describe("status verdicts", () => {
  it("names the newest etcd snapshot on a member or saved here, and warns when scheduled ones stopped", () => {
    const obs = withHost(healthy(cluster), "cp2", (h) => ({
      ...h,
      snapshots: [
        { host: "cp2", name: "scheduled-20261202T040000Z.db", size: 9, mtime: (NOW - 3_600_000) / 1000 },
      ],
    }));
    const fresh = assess(cluster, { ...obs, savedSnapshots: [{ name: "/s/a.db", time: NOW - 7_200_000 }] });
    assert.deepEqual(fresh.snapshots.last, {
      where: "cp2",
      name: "scheduled-20261202T040000Z.db",
      time: new Date(NOW - 3_600_000).toISOString(),
      ageSeconds: 3600,
    });
    assert.equal(fresh.snapshots.onMembers, 1);
    assert.equal(fresh.snapshots.savedHere, 1);
    assert.equal(fresh.verdict, "healthy");
    assert.ok(!fresh.problems.some((p) => p.subject === "etcd snapshots"));
    // the default schedule is 12 h: a newest of 25 h ago means two ticks were missed
    const stale = withHost(healthy(cluster), "cp1", (h) => ({
      ...h,
      snapshots: [{ host: "cp1", name: "scheduled-x.db", size: 9, mtime: (NOW - 25 * 3_600_000) / 1000 }],
    }));
    const r = assess(cluster, stale);
    assert.match(
      r.problems.find((p) => p.subject === "etcd snapshots")?.message ?? "",
      /newest is 25 h old, scheduled every 12 h/,
    );
    assert.equal(r.verdict, "healthy", "a warning, not a degraded cluster");
    assert.equal(assess(cluster, healthy(cluster)).snapshots.last, undefined);
  });

  it("calls a cluster where everything answers healthy, exit 0, with the leader, lag and VIP holders", () => {
    const r = assess(cluster, healthy(cluster));
    assert.equal(r.verdict, "healthy");
    assert.equal(r.exitCode, 0);
    assert.deepEqual(r.problems, []);
    assert.deepEqual(verdicts(r), { etcdQuorum: "up", api: "up", ingress: "up" });
    assert.equal(r.etcd.leader, "cp1");
    assert.deepEqual(
      r.etcd.members.map((m) => m.lag),
      [0, 5, 5],
    );
    assert.deepEqual(
      r.vips.map((v) => [v.name, v.keyHolder, v.onHosts.join(), v.arp.answeredBy.join()]),
      [
        ["api", "cp1", "cp1", "cp1"],
        ["ingress-1", "edge1", "edge1", "edge1"],
      ],
    );
    assert.match(r.capabilities[0]?.detail ?? "", /^3 of 3 etcd members alive, can lose 1 more$/);
    const text = formatStatus(r);
    assert.match(text, /^cluster test: HEALTHY/);
    assert.match(
      text,
      /api\s+192\.168\.61\.100\s+cp1\s+cp1\s+renewed 150 ms ago \(TTL 2 s\)\s+5 min ago\s+cp1 \(from w1\)/,
    );
  });

  it("calls a dead worker degraded, exit 1, naming it, though every capability is up", () => {
    const r = assess(cluster, withHost(healthy(cluster), "w1", unreachable));
    assert.equal(r.verdict, "degraded");
    assert.equal(r.exitCode, 1);
    assert.deepEqual(verdicts(r), { etcdQuorum: "up", api: "up", ingress: "up" });
    assert.deepEqual(
      r.problems.map((p) => `${p.subject}: ${p.message}`),
      ["w1: unreachable: cannot reach 192.168.61.21:22: timed out"],
    );
  });

  it("counts a dead controlplane host out of etcd and the API: degraded, can lose 0 more", () => {
    const r = assess(cluster, withHost(healthy(cluster), "cp3", unreachable));
    assert.equal(r.verdict, "degraded");
    const etcd = r.capabilities.find((c) => c.name === "etcdQuorum");
    assert.equal(etcd?.verdict, "degraded");
    assert.match(etcd?.detail ?? "", /2 of 3 etcd members alive, can lose 0 more/);
    assert.deepEqual(r.etcd.members.find((m) => m.host === "cp3")?.error, "host unreachable");
  });

  it("calls lost quorum down, exit 2, and the API with it", () => {
    let obs = healthy(cluster);
    for (const name of ["cp2", "cp3"]) obs = withHost(obs, name, unreachable);
    const r = assess(cluster, obs);
    assert.equal(r.verdict, "down");
    assert.equal(r.exitCode, 2);
    assert.deepEqual(verdicts(r), { etcdQuorum: "down", api: "down", ingress: "down" });
    assert.match(r.problems[0]?.message ?? "", /^down: 1 of 3 etcd members alive, needs 2/);
  });

  it("reports a service that is not ready by its unit, and a backend down on the load balancers", () => {
    let obs = withHost(healthy(cluster), "w2", (h) => ({
      ...h,
      services: h.services.map((s) => (s.name === "kubelet" ? { ...s, active: "failed", ready: false } : s)),
    }));
    obs = withHost(obs, "w1", (h) => ({
      ...h,
      agent: h.agent && {
        ...h.agent,
        frontends: h.agent.frontends.map((f) => ({
          ...f,
          backends: f.backends.map((b) =>
            b.endpoint.startsWith("192.168.61.12:")
              ? { ...b, state: "down" as const, since: NOW - 30_000 }
              : b,
          ),
        })),
      },
    }));
    const r = assess(cluster, obs);
    assert.equal(r.verdict, "degraded");
    assert.deepEqual(
      r.problems.map((p) => `${p.subject}: ${p.message}`),
      [
        "w2: kubelet is failed",
        "192.168.61.12:6443: backend down on the load balancers of w1 (since 2026-12-02T09:59:30.000Z)",
      ],
    );
    assert.match(formatStatus(r), /api\s+192\.168\.61\.12:6443\s+6 hosts\s+w1 \(for 30 s\)/);
  });

  it("shows a second host with the VIP as split brain, from addresses and from ARP", () => {
    let obs = withHost(healthy(cluster), "w2", (h) => ({
      ...h,
      addresses: [...h.addresses, "192.168.61.100"],
    }));
    obs = {
      ...obs,
      arp: obs.arp.map((a) => (a.vip === "192.168.61.100" ? { ...a, macs: [mac(0), mac(4)] } : a)),
    };
    const r = assess(cluster, obs);
    assert.equal(r.verdict, "degraded");
    assert.equal(r.capabilities.find((c) => c.name === "api")?.verdict, "degraded");
    const api = r.vips.find((v) => v.name === "api");
    assert.deepEqual(api?.onHosts, ["cp1", "w2"]);
    assert.deepEqual(api?.arp.answeredBy, ["cp1", "w2"]);
    assert.deepEqual(
      r.problems.map((p) => p.message),
      [
        "SPLIT BRAIN: cp1 and w2 all have 192.168.61.100 on an interface",
        "SPLIT BRAIN: cp1 and w2 answer ARP for 192.168.61.100 (asked from w1)",
      ],
    );
    assert.match(formatStatus(r), /cp1, w2 \(from w1\) SPLIT BRAIN/);
  });

  it("calls the API down when no host holds its VIP, and ingress degraded when one of two ingress VIPs is unheld", () => {
    const spec = baseSpec();
    spec.spec.ingress = { vips: ["192.168.61.200", "192.168.61.201"] };
    const two = loadObject(spec).cluster;
    let obs = withHost(healthy(two), "cp1", (h) => ({
      ...h,
      addresses: h.addresses.filter((a) => a !== "192.168.61.100"),
    }));
    obs = withHost(obs, "edge1", (h) => ({
      ...h,
      addresses: h.addresses.filter((a) => a !== "192.168.61.201"),
    }));
    const r = assess(two, obs);
    assert.deepEqual(verdicts(r), { etcdQuorum: "up", api: "down", ingress: "degraded" });
    assert.equal(r.verdict, "down");
    assert.ok(r.problems.some((p) => p.message === "no host holds the API VIP"));
  });

  it("flags etcd members that disagree on the member list, alarms and differing hashes", () => {
    let obs = withHost(healthy(cluster), "cp2", (h) => ({
      ...h,
      etcd: h.etcd && { ...h.etcd, members: ["cp1", "cp2"], alarms: ["NOSPACE on member 1001"] },
    }));
    obs = { ...obs, hashKv: { revision: 100, hashes: { cp1: 1, cp2: 1, cp3: 2 } } };
    const r = assess(cluster, obs);
    assert.equal(r.etcd.memberListsAgree, false);
    assert.equal(r.etcd.hashKv?.agree, false);
    assert.deepEqual(
      r.problems.map((p) => p.message),
      [
        "members disagree on the member list: cp1 lists [cp1, cp2, cp3]; cp2 lists [cp1, cp2]; cp3 lists [cp1, cp2, cp3]",
        "etcd alarm NOSPACE on member 1001",
        "members' key-space hashes differ at revision 100: cp1 1, cp2 1, cp3 2",
      ],
    );
  });

  it("checks an external load balancer instead of a VIP", () => {
    const spec = baseSpec();
    spec.spec.controlPlane.endpoint = { mode: "external", address: "192.168.61.150", port: 6443 };
    const ext = loadObject(spec).cluster;
    const obs = healthy(ext);
    const ok = assess(ext, {
      ...obs,
      external: { url: "https://192.168.61.150:6443/readyz", code: 200, ms: 3 },
    });
    assert.equal(ok.verdict, "healthy");
    const bad = assess(ext, {
      ...obs,
      external: {
        url: "https://192.168.61.150:6443/readyz",
        code: 0,
        ms: 3000,
        error: "connect ECONNREFUSED",
      },
    });
    assert.equal(bad.capabilities.find((c) => c.name === "api")?.verdict, "down");
    assert.equal(bad.exitCode, 2);
  });
});
