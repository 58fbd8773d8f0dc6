/** The etcd version steps `up` allows on a member with data. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { etcdVersionJump } from "./validate-hosts.js";

describe("etcd version steps", () => {
  it("allows the same minor and the next one, refuses a skipped minor and any downgrade", () => {
    assert.equal(etcdVersionJump("3.5.12", "v3.5.21"), undefined);
    assert.equal(etcdVersionJump("3.5.21", "v3.6.5"), undefined);
    assert.equal(etcdVersionJump(undefined, "v3.6.5"), undefined, "no data, or no etcd yet: anything goes");
    assert.equal(etcdVersionJump("3.4.23", undefined), undefined, "a package or directory says no version");
    const skip = etcdVersionJump("3.4.23", "v3.6.5");
    assert.match(skip?.message ?? "", /etcd 3\.4\.23 runs here with data .* one minor version at a time/);
    assert.match(skip?.hint ?? "", /v3\.5\.x first .*version: v3\.5\.N/);
    assert.match(etcdVersionJump("3.6.5", "v3.5.21")?.message ?? "", /no such downgrade/);
  });

  it("warns about Debian's etcd 3.4.23 by its CVE, and defaults real clusters to an upstream release", () => {
    const spec = baseSpec();
    spec.spec.etcd = { binaries: { source: "package" } };
    const packaged = loadObject(spec);
    assert.ok(
      packaged.warnings.some((w) => /CVE-2023-32082/.test(w.message) && w.path === "spec.etcd.binaries"),
    );
    delete spec.spec.etcd;
    const real = loadObject(spec);
    assert.deepEqual(real.cluster.etcd.binaries, { source: "download", version: "v3.6.5", arch: "amd64" });
    assert.equal(
      real.warnings.some((w) => /CVE/.test(w.message)),
      false,
    );
  });
});
