import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SpecError } from "../core/errors.js";
import { packageRoot } from "../core/package-info.js";
import { loadCluster, loadClusterText } from "../plan/load.js";
import { baseSpec, loadObject } from "./spec-fixtures.js";

/** Loads `text` expecting a SpecError; returns its issues. */
function problems(text: string) {
  try {
    loadClusterText(text, "t.yaml");
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
    return err.issues;
  }
  assert.fail("the spec loaded but should have failed");
}

function problemsOf(mutate: (s: any) => void) {
  const spec = baseSpec();
  mutate(spec);
  try {
    loadObject(spec);
  } catch (err) {
    assert.ok(err instanceof SpecError, `expected a SpecError, got ${err}`);
    return err.issues.filter((i) => i.severity === "error");
  }
  assert.fail("the spec loaded but should have failed");
}

describe("spec loading", () => {
  it("loads every example and applies defaults", () => {
    const dir = fileURLToPath(new URL("examples/", packageRoot));
    const files = readdirSync(dir, { recursive: true })
      .map(String)
      .filter((f) => f.endsWith(".yaml"));
    assert.ok(files.length >= 3, "the examples are there");
    for (const f of files) assert.doesNotThrow(() => loadCluster(`${dir}/${f}`), f);

    const { cluster } = loadObject(baseSpec());
    assert.equal(cluster.network.podCidr, "10.42.0.0/16");
    assert.equal(cluster.network.serviceCidr, "10.43.0.0/16");
    assert.deepEqual(cluster.etcd, {
      heartbeatMs: 100,
      electionMs: 1000,
      binaries: { source: "download", version: "v3.6.5", arch: "amd64" },
      snapshots: { everySeconds: 12 * 3600, keep: 6 },
    });
    const s = baseSpec();
    s.spec.etcd = { snapshots: { every: "90m", keep: 3 } };
    assert.deepEqual(loadObject(s).cluster.etcd.snapshots, { everySeconds: 5400, keep: 3 });
    s.spec.etcd = { snapshots: { enabled: false } };
    assert.equal(loadObject(s).cluster.etcd.snapshots, undefined);
    assert.deepEqual(cluster.controlPlane.endpoint, {
      mode: "vip",
      vip: "192.168.61.100",
      port: 6443,
      dnsNames: [],
      leaseTtlSeconds: 2,
    });
    assert.equal(cluster.controlPlane.nodeLocalProxyPort, 6443);
    assert.deepEqual(cluster.ingress, {
      vips: ["192.168.61.10"],
      vipField: "vip",
      ports: [80, 443],
      leaseTtlSeconds: 2,
      dedicatedEdges: false,
    });
    assert.deepEqual(cluster.hosts[0]?.ssh, { user: "root", port: 22, keyPath: "~/.ssh/id_ed25519" });
  });

  it("merges ssh settings: host over cluster over defaults", () => {
    const spec = baseSpec();
    spec.spec.ssh = { user: "admin", port: 2222 };
    spec.spec.hosts[1].ssh = { port: 22022, keyPath: "/k" };
    const { cluster } = loadObject(spec);
    assert.deepEqual(cluster.hosts[0]?.ssh, { user: "admin", port: 2222, keyPath: "~/.ssh/id_ed25519" });
    assert.deepEqual(cluster.hosts[1]?.ssh, { user: "admin", port: 22022, keyPath: "/k" });
  });

  it("reports YAML syntax errors with their line", () => {
    const issues = problems("apiVersion: kubeha/v1alpha1\nkind: Cluster\nspec:\n  hosts: [\n");
    assert.ok(issues.length >= 1);
    assert.ok(issues.every((i) => i.path === "(yaml)" && typeof i.line === "number"));
  });

  it("reports duplicate keys", () => {
    const issues = problems("apiVersion: kubeha/v1alpha1\nkind: Cluster\nkind: Cluster\n");
    assert.match(issues[0]?.message ?? "", /unique/);
    assert.equal(issues[0]?.line, 3);
  });

  it("reports an empty file", () => {
    assert.match(problems("")[0]?.message ?? "", /empty/);
  });

  it("reports every schema problem at once, each with path and position", () => {
    const text = [
      "apiVersion: kubeha/v1alpha1",
      "kind: Clustr",
      "metadata: { name: Bad_Name }",
      "spec:",
      "  network: { hostCidr: 192.168.61.0/33 }",
      "  hosts:",
      "    - { name: cp1, address: 192.168.61.11, roles: [controlplane, master] }",
      "    - { name: cp2, adress: 192.168.61.12, roles: [etcd] }",
      "  controlPlane:",
      "    endpoint: { mode: vip, vip: 192.168.61.100, port: 0 }",
    ].join("\n");
    const issues = problems(text);
    const at = (path: string) => issues.find((i) => i.path === path);
    assert.equal(at("kind")?.line, 2);
    assert.equal(at("metadata.name")?.line, 3);
    assert.equal(at("spec.network.hostCidr")?.line, 5);
    assert.equal(at("spec.hosts[0].roles[1]")?.line, 7);
    assert.match(at("spec.hosts[0].roles[1]")?.message ?? "", /controlplane, etcd, worker, edge/);
    assert.match(at("spec.hosts[1].adress")?.message ?? "", /unknown field "adress"/);
    assert.equal(at("spec.hosts[1].adress")?.line, 8);
    assert.equal(at("spec.hosts[1].adress")?.col, 20);
    assert.match(at("spec.hosts[1].address")?.message ?? "", /required field "address" is missing/);
    assert.equal(at("spec.controlPlane.endpoint.port")?.line, 10);
    assert.equal(issues.length, 7);
  });

  const cases: [string, (s: any) => void, string, RegExp][] = [
    [
      "duplicate names",
      (s) => (s.spec.hosts[1].name = "cp1"),
      "spec.hosts[1].name",
      /already used by spec.hosts\[0\]/,
    ],
    [
      "duplicate addresses",
      (s) => (s.spec.hosts[4].address = "192.168.61.11"),
      "spec.hosts[4].address",
      /already used/,
    ],
    ["name not DNS-1123", (s) => (s.spec.hosts[0].name = "CP_1"), "spec.hosts[0].name", /DNS-1123/],
    [
      "bad address",
      (s) => (s.spec.hosts[0].address = "192.168.61"),
      "spec.hosts[0].address",
      /"192.168.61" is neither an IP address nor a DNS name/,
    ],
    [
      "no controlplane",
      (s) =>
        (s.spec.hosts = s.spec.hosts.map((h: any) => ({
          ...h,
          roles: h.roles.filter((r: string) => r !== "controlplane"),
        }))),
      "spec.hosts",
      /no host has the controlplane role/,
    ],
    [
      "no etcd",
      (s) =>
        (s.spec.hosts = s.spec.hosts.map((h: any) => ({
          ...h,
          roles: h.roles.filter((r: string) => r !== "etcd"),
        }))),
      "spec.hosts",
      /no host has the etcd role/,
    ],
    [
      "unknown role",
      (s) => (s.spec.hosts[3].roles = ["node"]),
      "spec.hosts[3].roles[0]",
      /one of controlplane/,
    ],
    [
      "bad label key",
      (s) => (s.spec.hosts[3].labels = { "-bad": "x" }),
      "spec.hosts[3].labels.-bad",
      /label key/,
    ],
    [
      "bad label value",
      (s) => (s.spec.hosts[3].labels = { app: "a b" }),
      "spec.hosts[3].labels.app",
      /label value/,
    ],
    [
      "VIP outside hostCidr",
      (s) => (s.spec.controlPlane.endpoint.vip = "10.0.0.1"),
      "spec.controlPlane.endpoint.vip",
      /outside/,
    ],
    [
      "VIP is a host",
      (s) => (s.spec.controlPlane.endpoint.vip = "192.168.61.12"),
      "spec.controlPlane.endpoint.vip",
      /address of spec.hosts\[1\]/,
    ],
    [
      "controlplane outside hostCidr",
      (s) => (s.spec.hosts[2].address = "10.9.9.9"),
      "spec.hosts[2].address",
      /cannot hold the API VIP/,
    ],
    [
      "external without address",
      (s) => (s.spec.controlPlane.endpoint = { mode: "external" }),
      "spec.controlPlane.endpoint.address",
      /missing/,
    ],
    [
      "unknown endpoint mode",
      (s) => (s.spec.controlPlane.endpoint.mode = "dns"),
      "spec.controlPlane.endpoint.mode",
      /"vip".*"external"/,
    ],
    ["ingress VIP outside", (s) => (s.spec.ingress.vip = "10.1.1.1"), "spec.ingress.vip", /outside/],
    [
      "ingress VIP is a host",
      (s) => (s.spec.ingress.vip = "192.168.61.21"),
      "spec.ingress.vip",
      /address of spec.hosts\[3\]/,
    ],
    [
      "ingress VIP = API VIP",
      (s) => (s.spec.ingress.vip = "192.168.61.100"),
      "spec.ingress.vip",
      /API VIP too/,
    ],
    [
      "ingress vip and vips",
      (s) => (s.spec.ingress.vips = ["192.168.61.11"]),
      "spec.ingress.vips",
      /either vip or vips/,
    ],
    [
      "two ingress VIPs alike",
      (s) => (s.spec.ingress = { vips: ["192.168.61.200", "192.168.61.200"] }),
      "spec.ingress.vips[1]",
      /ingress VIP 192.168.61.200 too/,
    ],
    [
      "an ingress VIP outside",
      (s) => (s.spec.ingress = { vips: ["192.168.61.200", "10.9.9.9"] }),
      "spec.ingress.vips[1]",
      /outside/,
    ],
    [
      "rebalance too eager",
      (s) => (s.spec.ingress.rebalance = { quietSeconds: 1 }),
      "spec.ingress.rebalance.quietSeconds",
      /10/,
    ],
    [
      "ingress without edge",
      (s) => (s.spec.hosts = s.spec.hosts.filter((h: any) => !h.roles.includes("edge"))),
      "spec.ingress",
      /no host has the edge role/,
    ],
    ["bad podCidr", (s) => (s.spec.network.podCidr = "10.42.0.1/16"), "spec.network.podCidr", /not a CIDR/],
    [
      "overlapping CIDRs",
      (s) => (s.spec.network.serviceCidr = "10.42.128.0/17"),
      "spec.network.serviceCidr",
      /overlaps podCidr/,
    ],
    [
      "hostCidr overlaps pods",
      (s) => (s.spec.network.podCidr = "192.168.0.0/16"),
      "spec.network.podCidr",
      /overlaps hostCidr/,
    ],
    [
      "port out of range",
      (s) => (s.spec.ingress.ports = [80, 70000]),
      "spec.ingress.ports[1]",
      /between 1 and 65535/,
    ],
    [
      "port clash with etcd",
      (s) => {
        s.spec.hosts.push({ name: "e4", address: "192.168.61.40", roles: ["etcd"] });
        s.spec.hosts.push({ name: "e5", address: "192.168.61.41", roles: ["etcd"] });
        s.spec.controlPlane.nodeLocalProxy = { port: 2379 };
      },
      "spec.controlPlane.nodeLocalProxy.port",
      /port 2379 .* on e4, e5/,
    ],
    [
      "port clash with the kubelet health port",
      (s) => (s.spec.controlPlane.nodeLocalProxy = { port: 10248 }),
      "spec.controlPlane.nodeLocalProxy.port",
      /kubelet/,
    ],
    ["duplicate ingress ports", (s) => (s.spec.ingress.ports = [80, 80]), "spec.ingress.ports[1]", /port 80/],
    [
      "a Kubernetes version without reference data",
      (s) => (s.spec.kubernetes = { version: "v1.29.4" }),
      "spec.kubernetes.version",
      /no reference data for Kubernetes v1\.29\.4 .*supported: v1\.34\.x/,
    ],
    [
      "an unknown extra flag",
      (s) => (s.spec.kubernetes = { apiserver: { extraArgs: { "no-such-flag": "1" } } }),
      "spec.kubernetes.apiserver.extraArgs.no-such-flag",
      /--no-such-flag is not a flag of kube-apiserver v1\.34/,
    ],
    [
      "a deprecated extra flag",
      (s) => (s.spec.kubernetes = { scheduler: { extraArgs: { kubeconfig: "/x.conf" } } }),
      "spec.kubernetes.scheduler.extraArgs.kubeconfig",
      /--kubeconfig is deprecated in v1\.34/,
    ],
    [
      "a deprecated extra flag value",
      (s) =>
        (s.spec.kubernetes = { apiserver: { extraArgs: { "endpoint-reconciler-type": "master-count" } } }),
      "spec.kubernetes.apiserver.extraArgs.endpoint-reconciler-type",
      /--endpoint-reconciler-type=master-count is deprecated/,
    ],
    [
      "etcd timings",
      (s) => (s.spec.etcd = { heartbeatMs: 300, electionMs: 1000 }),
      "spec.etcd.electionMs",
      /5 x heartbeatMs/,
    ],
    [
      "VIP lease shorter than etcd grants",
      (s) => {
        s.spec.etcd = { heartbeatMs: 100, electionMs: 2000 };
        s.spec.controlPlane.endpoint.leaseTtlSeconds = 2;
      },
      "spec.controlPlane.endpoint.leaseTtlSeconds",
      /etcd's shortest lease, 3 s/,
    ],
    [
      "a VIP without hostCidr",
      (s) => delete s.spec.network.hostCidr,
      "spec.network",
      /network.hostCidr is required with the API VIP and the ingress VIP/,
    ],
    ["wrong apiVersion", (s) => (s.apiVersion = "v1"), "apiVersion", /kubeha\/v1alpha1/],
    ["wrong type", (s) => (s.spec.hosts = "cp1"), "spec.hosts", /expected array/],
    ["unknown top field", (s) => (s.status = {}), "status", /unknown field/],
  ];
  for (const [name, mutate, path, message] of cases) {
    it(`refuses: ${name}`, () => {
      const issues = problemsOf(mutate);
      const hit = issues.find((i) => i.path === path);
      assert.ok(hit, `no problem at ${path}; got ${JSON.stringify(issues)}`);
      assert.match(hit.message, message);
      assert.ok(hit.line !== undefined && hit.col !== undefined, "has a position");
    });
  }

  it("warns, without failing, on an even etcd count and a single edge host", () => {
    const spec = baseSpec();
    spec.spec.hosts[3].roles.push("etcd");
    spec.spec.hosts[6].roles = ["worker"];
    const { warnings } = loadObject(spec);
    assert.ok(
      warnings.some((w) => /4 etcd members need 3 for quorum and tolerate 1 failure/.test(w.message)),
    );
    assert.ok(warnings.some((w) => /only one edge host \(edge1\)/.test(w.message)));
  });
});

describe("spec loading: every problem at once", () => {
  it("runs the cross-field rules on the well-formed part when the schema fails", () => {
    const text = [
      "apiVersion: kubeha/v1alpha1",
      "kind: Cluster",
      "metadata: { name: mixed }",
      "spec:",
      "  network: { hostCidr: 192.168.61.0/24 }",
      "  hosts:",
      "    - { name: cp1, address: 192.168.61.11, roles: [controlplane, etcd] }",
      "    - { name: cp1, address: 192.168.61.12, roles: [controlplane, etcd] }",
      "    - { name: w1, address: 192.168.61.21, roles: [wroker] }",
      "    - { name: cp3, address: 192.168.61.13, roles: [controlplane, etcd] }",
      "  controlPlane:",
      "    endpoint: { mode: vip, vip: 10.0.0.1 }",
      "    nodeLocalProxy: { port: 70000 }",
      "  ingress: { vip: 192.168.61.10, ports: [80, 443] }",
    ].join("\n");
    const issues = problems(text);
    const at = (path: string) => issues.filter((i) => i.path === path).map((i) => i.message);
    // schema: a bad role, a port out of range
    assert.match(at("spec.hosts[2].roles[0]").join(), /must be one of controlplane/);
    assert.match(at("spec.controlPlane.nodeLocalProxy.port").join(), /between 1 and 65535/);
    // rules on what is well-formed: a duplicate name (positions of the spec kept), the VIP outside the segment
    assert.match(at("spec.hosts[1].name").join(), /name cp1 is already used by spec.hosts\[0\]/);
    assert.match(at("spec.controlPlane.endpoint.vip").join(), /API VIP 10.0.0.1 is outside network.hostCidr/);
    // not "no edge host": the malformed host may be one; rules over all hosts wait for all hosts
    assert.deepEqual(at("spec.ingress"), []);
    assert.equal(issues.find((i) => i.path === "spec.hosts[1].name")?.line, 8);
    // nothing about what the user has not yet written correctly: no port clash report on the bad port
    assert.equal(issues.filter((i) => /port 70000|wanted twice/.test(i.message)).length, 0);
    assert.equal(issues.length, 4, JSON.stringify(issues, null, 1));
  });

  it("checks what it can when a whole section is malformed, and nothing that reads it", () => {
    const spec = baseSpec();
    spec.spec.network = { hostCidr: "192.168.61.0/33" };
    spec.spec.hosts[1].name = "cp1";
    const issues = problemsOf((s) => Object.assign(s, spec));
    assert.ok(issues.some((i) => i.path === "spec.network.hostCidr" && /not a CIDR range/.test(i.message)));
    assert.ok(issues.some((i) => i.path === "spec.hosts[1].name" && /already used/.test(i.message)));
    assert.ok(
      !issues.some((i) => /hostCidr is required|outside network.hostCidr/.test(i.message)),
      "rules reading hostCidr are skipped",
    );
  });
});

describe("spec loading: hosts named by DNS", () => {
  const named = () => {
    const spec = baseSpec();
    spec.spec.hosts[3].address = "w1.lab.example";
    spec.spec.hosts[0].address = "cp1.lab.example";
    return spec;
  };

  it("accepts a DNS name as a host's address and leaves it unresolved", () => {
    const { cluster } = loadObject(named());
    const cp1 = cluster.hosts[0];
    assert.equal(cp1?.address, "cp1.lab.example");
    assert.equal(cp1?.ip, undefined);
    assert.equal(cluster.hosts[1]?.ip, "192.168.61.12");
  });

  it("defers the checks that need its address, and runs the rest", () => {
    const spec = named();
    spec.spec.hosts[4].address = "w1.lab.example"; // the same name twice is caught without resolving
    const issues = problemsOf((s) => Object.assign(s, spec));
    assert.deepEqual(
      issues.map((i) => `${i.path}: ${i.message}`),
      ["spec.hosts[4].address: address w1.lab.example is already used by spec.hosts[3]"],
    );
  });

  it("refuses what is neither an address nor a name", () => {
    const issues = problemsOf((s) => (s.spec.hosts[0].address = "cp_1.example"));
    assert.match(issues[0]?.message ?? "", /neither an IP address nor a DNS name/);
  });
});
