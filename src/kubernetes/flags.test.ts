/** Flag checks against the reference data, and the data itself up to date with reference/. */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../core/package-info.js";
import { flagProblem, flagProblems, isSupported, minorOf, parseArgs, SUPPORTED_MINORS } from "./flags.js";

describe("Kubernetes flags", () => {
  it("are generated from reference/ (node scripts/reference-data.mjs)", () => {
    execFileSync(process.execPath, [
      fileURLToPath(new URL("scripts/reference-data.mjs", packageRoot)),
      "--check",
    ]);
    assert.deepEqual(SUPPORTED_MINORS, ["1.34"]);
    assert.equal(minorOf("v1.34.2"), "1.34");
    assert.equal(isSupported("v1.34.0"), true);
    assert.equal(isSupported("v1.35.0"), false);
  });

  it("tells unknown, later, deprecated and deprecated-value flags apart", () => {
    assert.equal(flagProblem("kube-apiserver", "v1.34.2", "etcd-servers"), undefined);
    assert.match(
      flagProblem("kube-apiserver", "v1.34.2", "etcd-server") ?? "",
      /not a flag of kube-apiserver v1\.34/,
    );
    assert.match(
      flagProblem("kube-apiserver", "v1.34.2", "tls-curve-preferences") ?? "",
      /not accepted before v1\.36/,
    );
    assert.match(
      flagProblem("kube-apiserver", "v1.34.2", "apiserver-count", "3") ?? "",
      /deprecated.*apiserver-count/,
    );
    assert.match(flagProblem("kube-scheduler", "v1.34.2", "kubeconfig") ?? "", /deprecated/);
    assert.match(
      flagProblem("kube-apiserver", "v1.34.2", "endpoint-reconciler-type", "master-count") ?? "",
      /--endpoint-reconciler-type=master-count is deprecated/,
    );
    assert.equal(flagProblem("kube-apiserver", "v1.34.2", "endpoint-reconciler-type", "lease"), undefined);
    assert.deepEqual(
      flagProblems("kube-controller-manager", "v1.34.2", [
        ["leader-elect", "true"],
        ["leader-elect", "false"],
      ]),
      ["--leader-elect is given twice"],
    );
  });

  it("parses a command line like pflag, refusing what the real binary refuses", () => {
    const args = parseArgs("kube-apiserver", "v1.34.2", [
      "--secure-port=6443",
      "--allow-privileged",
      "--etcd-servers=a,b",
    ]);
    assert.deepEqual(
      [...args],
      [
        ["secure-port", "6443"],
        ["allow-privileged", "true"],
        ["etcd-servers", "a,b"],
      ],
    );
    assert.throws(() => parseArgs("kube-apiserver", "v1.34.2", ["--nope"]), /^Error: unknown flag: --nope$/);
    assert.throws(
      () => parseArgs("kube-apiserver", "v1.35.0", []),
      /no reference data for Kubernetes v1\.35\.0; supported: v1\.34/,
    );
  });
});
