import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { UsageError } from "../core/errors.js";
import { packageRoot } from "../core/package-info.js";
import { etcdQuorum } from "../spec/quorum.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { loadCluster } from "./load.js";
import { buildPlan } from "./plan.js";

const example = (name: string) =>
  loadCluster(fileURLToPath(new URL(`examples/${name}/cluster.yaml`, packageRoot)));

/** A spec with `n` dedicated etcd hosts besides one controlplane. */
function withEtcdMembers(n: number) {
  const spec = baseSpec();
  spec.spec.hosts = [
    { name: "cp1", address: "192.168.61.11", roles: ["controlplane"] },
    ...Array.from({ length: n }, (_, i) => ({
      name: `e${i + 1}`,
      address: `192.168.61.${50 + i}`,
      roles: ["etcd"],
    })),
  ];
  delete spec.spec.ingress;
  return loadObject(spec);
}

describe("etcd quorum", () => {
  it("follows the majority rule", () => {
    const table = [1, 2, 3, 4, 5, 6, 7].map((n) => [
      n,
      etcdQuorum(n).quorum,
      etcdQuorum(n).toleratesFailures,
    ]);
    assert.deepEqual(table, [
      [1, 1, 0],
      [2, 2, 0],
      [3, 2, 1],
      [4, 3, 1],
      [5, 3, 2],
      [6, 4, 2],
      [7, 4, 3],
    ]);
  });

  for (const [members, quorum, tolerates] of [
    [1, 1, 0],
    [3, 2, 1],
    [4, 3, 1],
    [5, 3, 2],
  ] as const) {
    it(`plans ${members} members: quorum ${quorum}, tolerates ${tolerates}`, () => {
      const plan = buildPlan(withEtcdMembers(members));
      assert.deepEqual(plan.tolerance.etcd, { members, quorum, toleratesFailures: tolerates });
    });
  }
});

describe("plan", () => {
  it("computes the lab topology's tolerance", () => {
    const plan = buildPlan(example("lab"));
    assert.deepEqual(plan.tolerance, {
      etcd: { members: 3, quorum: 2, toleratesFailures: 1 },
      apiserver: { instances: 3, toleratesFailures: 1 },
      ingress: { edgeHosts: 2, toleratesFailures: 1, vips: 2, vipsPerEdgeAtWorst: 2 },
    });
    assert.deepEqual(plan.singlePointsOfFailure, []);
  });

  it("computes the RKE 10-node topology's tolerance", () => {
    const plan = buildPlan(example("rke-10-node"));
    assert.deepEqual(plan.tolerance, {
      etcd: { members: 3, quorum: 2, toleratesFailures: 1 },
      apiserver: { instances: 2, toleratesFailures: 1 },
      ingress: { edgeHosts: 2, toleratesFailures: 1, vips: 2, vipsPerEdgeAtWorst: 2 },
    });
  });

  it("limits API tolerance by the apiserver count and by etcd", () => {
    const spec = baseSpec();
    // five etcd members (tolerate 2) but only 2 apiservers: the API tolerates 1
    spec.spec.hosts[3].roles = ["worker", "etcd"];
    spec.spec.hosts[4].roles = ["worker", "etcd"];
    spec.spec.hosts[2].roles = ["etcd"];
    const plan = buildPlan(loadObject(spec));
    assert.equal(plan.tolerance.etcd.toleratesFailures, 2);
    assert.deepEqual(plan.tolerance.apiserver, { instances: 2, toleratesFailures: 1 });
  });

  it("names single points of failure with the reason", () => {
    const spec = baseSpec();
    spec.spec.hosts = [
      { name: "cp1", address: "192.168.61.11", roles: ["controlplane", "etcd"] },
      { name: "w1", address: "192.168.61.21", roles: ["worker", "edge"] },
    ];
    const plan = buildPlan(loadObject(spec));
    const byCap = Object.fromEntries(plan.singlePointsOfFailure.map((s) => [s.capability, s]));
    assert.deepEqual(byCap.etcdQuorum?.hosts, ["cp1"]);
    assert.deepEqual(byCap.api?.hosts, ["cp1"]);
    assert.match(byCap.api?.reason ?? "", /needs 1 of 1 apiservers \(cp1\)/);
    // the ingress VIP is elected on etcd, so the single etcd member is a SPOF for ingress too
    const ingress = plan.singlePointsOfFailure.filter((s) => s.capability === "ingress");
    assert.deepEqual(ingress.flatMap((s) => s.hosts).sort(), ["cp1", "w1"]);
    assert.ok(
      ingress.some((s) => /etcd members/.test(s.reason)) && ingress.some((s) => /edge hosts/.test(s.reason)),
    );
    assert.equal(plan.tolerance.ingress.toleratesFailures, 0);
  });

  it("answers what-if from the topology", () => {
    const lab = example("lab");
    const survives = (lost: string[]) => buildPlan(lab, lost).whatIf?.survives;
    assert.deepEqual(survives(["cp1"]), { etcdQuorum: true, api: true, ingress: true });
    assert.deepEqual(survives(["cp1", "cp2"]), { etcdQuorum: false, api: false, ingress: false });
    assert.deepEqual(survives(["edge1", "edge2"]), { etcdQuorum: true, api: true, ingress: false });
    assert.deepEqual(survives(["w1", "w2", "edge1"]), { etcdQuorum: true, api: true, ingress: true });
    assert.deepEqual(buildPlan(lab, ["cp1", "cp2"]).whatIf?.lost, ["cp1", "cp2"]);

    // on the RKE topology, losing both controlplanes loses the API but not etcd or ingress
    const rke = example("rke-10-node");
    assert.deepEqual(buildPlan(rke, ["controlplane1", "controlplane2"]).whatIf?.survives, {
      etcdQuorum: true,
      api: false,
      ingress: true,
    });
    assert.deepEqual(buildPlan(rke, ["etcd1", "etcd3"]).whatIf?.survives, {
      etcdQuorum: false,
      api: false,
      ingress: false,
    });
  });

  it("refuses what-if hosts that are not in the spec", () => {
    assert.throws(
      () => buildPlan(example("lab"), ["cp9"]),
      (err: unknown) => {
        assert.ok(err instanceof UsageError);
        assert.match(err.message, /unknown host: cp9/);
        assert.match(err.hint ?? "", /cp1, cp2, cp3/);
        return true;
      },
    );
  });

  it("carries the spec's warnings as findings", () => {
    const plan = buildPlan(withEtcdMembers(4));
    assert.ok(plan.findings.some((f) => f.severity === "warning" && f.path === "spec.hosts"));
  });
});

describe("an external API endpoint", () => {
  it("is named as a dependency outside the model, which status checks", async () => {
    const { formatPlan } = await import("./format.js");
    const spec = baseSpec();
    spec.spec.controlPlane.endpoint = { mode: "external", address: "192.168.61.150", port: 6443 };
    const text = formatPlan(buildPlan(loadObject(spec)));
    assert.match(
      text,
      /API endpoint external 192\.168\.61\.150:6443 \(your load balancer: outside this model.*kubeha status/,
    );
  });
});
