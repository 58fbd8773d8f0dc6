import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { stringify } from "yaml";
import { packageRoot } from "../core/package-info.js";
import { loadCluster, loadClusterText } from "../plan/load.js";
import { buildPlan } from "../plan/plan.js";
import { importRke } from "./rke.js";

const read = (path: string) => readFileSync(new URL(path, packageRoot), "utf8");

describe("import rke", () => {
  const { spec, warnings } = importRke(read("examples/rke-10-node/cluster.yml"));
  const loaded = loadClusterText(stringify(spec), "imported.yaml");

  it("carries the 10-node topology over host for host", () => {
    const handWritten = loadCluster(
      new URL("examples/rke-10-node/cluster.yaml", packageRoot).pathname,
    ).cluster;
    const shape = (hosts: typeof loaded.cluster.hosts) =>
      hosts.map((h) => ({
        name: h.name,
        address: h.address,
        roles: [...h.roles].sort(),
        labels: h.labels,
        user: h.ssh.user,
      }));
    assert.deepEqual(shape(loaded.cluster.hosts), shape(handWritten.hosts));
    assert.equal(loaded.cluster.network.hostCidr, "10.20.0.0/24");
    // RKE ran v1.28.15: kubeha deploys only versions whose flags it knows, and says so
    assert.equal(loaded.cluster.kubernetes.version, "v1.34.2");
    assert.ok(
      warnings.some((w) =>
        /kubernetes_version v1\.28\.15-rancher1-1 left out: kubeha deploys v1\.34/.test(w),
      ),
      warnings.join("\n"),
    );
  });

  it("makes the ingress node_selector matches edge hosts", () => {
    const edges = loaded.cluster.hosts.filter((h) => h.roles.includes("edge")).map((h) => h.name);
    assert.deepEqual(edges, ["ingress1", "ingress2"]);
  });

  it("turns the SANs into the external endpoint and dnsNames", () => {
    assert.deepEqual(loaded.cluster.controlPlane.endpoint, {
      mode: "external",
      address: "api.mycluster.example.com",
      port: 6443,
      dnsNames: ["api.mycluster.example.com"],
    });
  });

  it("lists what it could not carry over", () => {
    for (const expected of [
      /^network not carried over/,
      /services\.etcd\.snapshot/,
      /services\.etcd\.retention/,
      /ingress-nginx is retired/,
    ]) {
      assert.ok(
        warnings.some((w) => expected.test(w)),
        `no warning matching ${expected}`,
      );
    }
  });

  it("warns about every unknown key and never copies secrets", () => {
    const text = `
nodes:
  - address: 10.0.0.1
    role: [controlplane, etcd, worker]
    ssh_key: "-----BEGIN OPENSSH PRIVATE KEY-----SECRET"
    docker_socket: /var/run/docker.sock
private_registries:
  - { url: r.example.com, user: u, password: hunter2 }
services:
  kube-api:
    extra_args: { audit-log-path: /x }
    service_cluster_ip_range: 10.96.0.0/12
`;
    const result = importRke(text);
    const all = `${stringify(result.spec)}\n${result.warnings.join("\n")}`;
    assert.ok(!all.includes("SECRET") && !all.includes("hunter2"), "no secret in the output or the warnings");
    for (const expected of [
      /nodes\[0\]\.ssh_key .*inline secret/,
      /nodes\[0\]\.docker_socket/,
      /private_registries/,
      /services\.kube-api\.extra_args/,
    ]) {
      assert.ok(
        result.warnings.some((w) => expected.test(w)),
        `no warning matching ${expected}`,
      );
    }
    // with nginx ingress and no selector, every worker runs the ingress controller
    const hosts = (result.spec as any).spec.hosts;
    assert.deepEqual(hosts[0].roles, ["controlplane", "etcd", "worker", "edge"]);
    assert.equal((result.spec as any).spec.network.serviceCidr, "10.96.0.0/12");
  });

  it("imports the RKE HA guide's cluster.yml, whose nodes are DNS names only, into a spec plan accepts", () => {
    // the guide's ten nodes as it lists them: an address (a name), a user and roles; SANs for the API
    // load balancer and the ingress node selector
    const nodes = [
      ...["controlplane1", "controlplane2"].map((n) => [n, "controlplane"]),
      ...["etcd1", "etcd2", "etcd3"].map((n) => [n, "etcd"]),
      ...["ingress1", "ingress2"].map((n) => [n, "worker", "app: ingress"]),
      ...["worker1", "worker2", "worker3"].map((n) => [n, "worker"]),
    ];
    const text = [
      "nodes:",
      ...nodes.flatMap(([name, role, label]) => [
        `  - address: ${name}.mycluster.example.com`,
        "    user: ubuntu",
        `    role: [${role}]`,
        ...(label ? [`    labels: { ${label} }`] : []),
      ]),
      "authentication: { strategy: x509, sans: [api.mycluster.example.com] }",
      "ingress: { provider: nginx, node_selector: { app: ingress } }",
    ].join("\n");
    const imported = importRke(text);
    const seed = loadClusterText(stringify(imported.spec), "seed.yaml");
    assert.deepEqual(
      seed.cluster.hosts.map((h) => `${h.name} ${h.address} ${h.roles.join(",")}`),
      nodes.map(
        ([name, role]) =>
          `${name} ${name}.mycluster.example.com ${role}${name?.startsWith("ingress") ? ",edge" : ""}`,
      ),
    );
    assert.equal(seed.cluster.network.hostCidr, undefined);
    assert.ok(
      imported.warnings.some((w) =>
        /network.hostCidr left out: it cannot be derived from host names/.test(w),
      ),
      imported.warnings.join("\n"),
    );
    assert.ok(imported.warnings.some((w) => /ingress-nginx is retired/.test(w)));
    const plan = buildPlan(seed);
    assert.equal(plan.deferred?.hosts.length, 10);
    assert.deepEqual(plan.tolerance.etcd, { members: 3, quorum: 2, toleratesFailures: 1 });
  });

  it("refuses a file that is not an RKE cluster.yml", () => {
    assert.throws(() => importRke("apiVersion: v1\nkind: Pod\n"), /not an RKE cluster.yml: nodes/);
  });
});
