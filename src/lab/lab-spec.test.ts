import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SpecError, UsageError } from "../core/errors.js";
import { packageRoot } from "../core/package-info.js";
import { scratch } from "../pki/pki-fixtures.js";
import { loadCluster } from "../plan/load.js";
import { DEFAULT_LAB_HOSTS, labTopology, loadLabSpec } from "./lab-spec.js";

describe("lab topology", () => {
  it("places the default lab exactly as examples/lab/cluster.yaml does", () => {
    const t = labTopology(DEFAULT_LAB_HOSTS);
    const example = loadCluster(fileURLToPath(new URL("examples/lab/cluster.yaml", packageRoot))).cluster;
    assert.deepEqual(
      t.hosts.map((h) => [h.name, h.address, h.roles]),
      example.hosts.map((h) => [h.name, h.address, h.roles]),
    );
    assert.equal(t.bridgeAddress, "192.168.61.1");
    assert.equal(t.apiVip, (example.controlPlane.endpoint as { vip: string }).vip);
    assert.deepEqual(t.ingressVips, example.ingress?.vips);
    assert.deepEqual(t.ingressVips, ["192.168.61.200", "192.168.61.201"]);
  });

  it("numbers hosts from .11, skipping taken and reserved numbers", () => {
    const t = labTopology([
      { name: "a", roles: ["worker"], hostNumber: 12 },
      { name: "b", roles: ["worker"] },
      { name: "c", roles: ["worker"] },
    ]);
    assert.deepEqual(
      t.hosts.map((h) => h.address),
      ["192.168.61.12", "192.168.61.11", "192.168.61.13"],
    );
    assert.throws(() => labTopology([{ name: "a", roles: ["worker"], hostNumber: 100 }]), UsageError);
    assert.throws(
      () =>
        labTopology([
          { name: "a", roles: ["worker"] },
          { name: "a", roles: ["etcd"] },
        ]),
      /listed twice/,
    );
  });

  it("reads a lab spec file and reports its problems", () => {
    const dir = scratch("labspec");
    const good = join(dir, "good.yaml");
    writeFileSync(
      good,
      "apiVersion: kubeha/v1alpha1\nkind: Lab\nspec:\n  cidr: 192.168.62.0/24\n  hosts: [{ name: cp1, roles: [etcd] }]\n",
    );
    assert.equal(loadLabSpec(good).hosts[0]?.address, "192.168.62.11");
    const bad = join(dir, "bad.yaml");
    writeFileSync(
      bad,
      "apiVersion: kubeha/v1alpha1\nkind: Lab\nspec:\n  cidr: 10.0.0.0/16\n  hosts: [{ name: CP1, roles: [db] }]\n",
    );
    assert.throws(
      () => loadLabSpec(bad),
      (err: unknown) => {
        assert.ok(err instanceof SpecError);
        assert.deepEqual(err.issues.map((i) => i.path).sort(), [
          "spec.cidr",
          "spec.hosts[0].name",
          "spec.hosts[0].roles[0]",
        ]);
        return true;
      },
    );
  });
});
