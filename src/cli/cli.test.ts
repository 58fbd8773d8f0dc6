/** The CLI as users run it: a real process, its output streams and exit codes. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { packageRoot } from "../core/package-info.js";
import { scratch } from "../pki/pki-fixtures.js";

const root = fileURLToPath(packageRoot);
const bin = join(root, "bin", "kubeha.js");

function kubeha(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: "utf8", cwd: root });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("kubeha CLI", () => {
  it("prints help and version like any CLI", () => {
    const help = kubeha("--help");
    assert.equal(help.code, 0);
    for (const cmd of ["init", "plan", "import", "schema"])
      assert.match(help.stdout, new RegExp(`\\n  ${cmd}\\b`));
    const planHelp = kubeha("plan", "--help");
    assert.equal(planHelp.code, 0);
    assert.match(planHelp.stdout, /--what-if <hosts>/);
    const version = kubeha("--version");
    assert.equal(version.code, 0);
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
    assert.equal(version.stdout.trim(), pkg.version);
  });

  it("status names every host it cannot reach and says down (exit 2), in text and as JSON", () => {
    const dir = scratch("cli-status");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "key")]);
    // loopback addresses where nothing listens on the SSH port: refused at once
    const spec = join(dir, "cluster.yaml");
    writeFileSync(
      spec,
      `apiVersion: kubeha/v1alpha1
kind: Cluster
metadata: { name: nowhere }
spec:
  ssh: { user: root, port: 9, keyPath: ${join(dir, "key")} }
  network: { hostCidr: 127.0.0.0/24 }
  hosts:
    - { name: cp1, address: 127.0.0.51, roles: [controlplane, etcd] }
    - { name: w1, address: 127.0.0.52, roles: [worker] }
  controlPlane: { endpoint: { mode: vip, vip: 127.0.0.100 } }
`,
    );
    const text = kubeha("status", "-f", spec);
    assert.equal(text.code, 2, text.stderr);
    assert.match(text.stdout, /^cluster nowhere: DOWN/);
    assert.match(text.stdout, /^ {2}cp1: unreachable: cannot reach 127\.0\.0\.51:9: connect ECONNREFUSED/m);
    assert.match(text.stdout, /^ {2}w1: unreachable: /m);
    assert.match(text.stdout, /^etcd quorum +down +0 of 1 etcd member alive, needs 1$/m);
    const json = kubeha("status", "-f", spec, "-o", "json");
    assert.equal(json.code, 2);
    const report = JSON.parse(json.stdout);
    assert.equal(report.kind, "Status");
    assert.equal(report.verdict, "down");
    assert.deepEqual(
      report.hosts.map((h: { name: string; reachable: boolean }) => [h.name, h.reachable]),
      [
        ["cp1", false],
        ["w1", false],
      ],
    );
  });

  it("drill says what is missing before touching anything", () => {
    const noFault = kubeha("drill", "-f", "examples/lab/cluster.yaml");
    assert.equal(noFault.code, 2);
    assert.match(noFault.stderr, /say --fault \(or --each-host\)/);
    const badFault = kubeha("drill", "-f", "examples/lab/cluster.yaml", "--fault", "meteor");
    assert.equal(badFault.code, 2);
    assert.match(
      badFault.stderr,
      /Allowed choices are power-off, partition, kill, freeze, stop, etcd-leader/,
    );
    const trials = kubeha("drill", "-f", "examples/lab/cluster.yaml", "--fault", "kill", "--trials", "0");
    assert.equal(trials.code, 2);
    assert.match(trials.stderr, /--trials must be a whole number/);
    const dir = scratch("cli-drill");
    const noState = kubeha(
      "drill",
      "-f",
      "examples/lab/cluster.yaml",
      "--fault",
      "power-off",
      "--target",
      "cp1",
      "--state",
      dir,
      "--platform",
      "hosts",
    );
    assert.equal(noState.code, 1);
    assert.match(noState.stderr, /no admin\.conf in the state directory/);
  });

  it("exits 2 on unknown commands and options", () => {
    assert.equal(kubeha("frobnicate").code, 2);
    const r = kubeha("plan", "-f", "examples/lab/cluster.yaml", "--bogus");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /unknown option '--bogus'/);
  });

  it("plans an example as JSON with the documented contract", () => {
    const r = kubeha("plan", "-f", "examples/lab/cluster.yaml", "--output", "json", "--what-if", "cp1,cp2");
    assert.equal(r.code, 0, r.stderr);
    const plan = JSON.parse(r.stdout);
    assert.deepEqual(plan.tolerance.etcd, { members: 3, quorum: 2, toleratesFailures: 1 });
    assert.deepEqual(plan.tolerance.apiserver, { instances: 3, toleratesFailures: 1 });
    assert.deepEqual(plan.tolerance.ingress, {
      edgeHosts: 2,
      toleratesFailures: 1,
      vips: 2,
      vipsPerEdgeAtWorst: 2,
    });
    assert.ok(Array.isArray(plan.singlePointsOfFailure) && Array.isArray(plan.findings));
    assert.deepEqual(plan.whatIf, {
      lost: ["cp1", "cp2"],
      survives: { etcdQuorum: false, api: false, ingress: false },
    });
  });

  it("plans an example as text", () => {
    const r = kubeha("plan", "-f", "examples/rke-10-node/cluster.yaml");
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /etcd quorum\s+3 members\s+2 of 3\s+1 failure/);
    assert.match(r.stdout, /Kubernetes API\s+2 apiservers/);
    assert.match(r.stdout, /SINGLE POINTS OF FAILURE\nnone/);
  });

  it("lists every spec problem with path and line, exit 2, nothing else", () => {
    const dir = scratch("cli");
    const file = join(dir, "bad.yaml");
    writeFileSync(
      file,
      [
        "apiVersion: kubeha/v1alpha1",
        "kind: Cluster",
        "metadata: { name: bad }",
        "spec:",
        "  network: { hostCidr: 192.168.61.0/24 }",
        "  hosts:",
        "    - { name: cp1, address: 192.168.61.11, roles: [controlplane, etcd] }",
        "    - { name: cp1, address: 192.168.61.12, roles: [worker] }",
        "  controlPlane:",
        "    endpoint: { mode: vip, vip: 10.0.0.1 }",
      ].join("\n"),
    );
    const r = kubeha("plan", "-f", file);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, "");
    const lines = r.stderr.trim().split("\n");
    assert.match(lines[0] ?? "", /^error: .*bad\.yaml: 2 problems in the spec$/);
    assert.deepEqual(lines.slice(1, -1), [
      "  spec.hosts[1].name (8:15): name cp1 is already used by spec.hosts[0]",
      "  spec.controlPlane.endpoint.vip (10:33): API VIP 10.0.0.1 is outside network.hostCidr 192.168.61.0/24",
    ]);
    assert.match(lines.at(-1) ?? "", /^hint: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  });

  it("plans a spec with hosts named by DNS, saying which checks wait for `up`", () => {
    const dir = scratch("cli-dns");
    const file = join(dir, "named.yaml");
    writeFileSync(
      file,
      readFileSync(join(root, "examples/stacked-3/cluster.yaml"), "utf8").replace(
        /address: 192\.168\.1\.12\b/,
        "address: master2.example.com",
      ),
    );
    const r = kubeha("plan", "-f", file);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /master2\s+master2\.example\.com\s+controlplane,etcd/);
    assert.match(
      r.stdout,
      /DEFERRED TO `kubeha up`\n1 host named by DNS \(master2\); `up` resolves them once/,
    );
    assert.match(r.stdout, /- controlplane and edge hosts lie inside network\.hostCidr/);
  });

  it("reports a missing file without a stack trace", () => {
    const r = kubeha("plan", "-f", "no-such.yaml");
    assert.equal(r.code, 2);
    assert.match(r.stderr, /cannot read spec no-such.yaml: no such file/);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  });

  it("init writes a commented example that plans, and refuses to overwrite it", () => {
    const dir = scratch("init");
    const file = join(dir, "cluster.yaml");
    assert.equal(kubeha("init", "-o", file).code, 0);
    const text = readFileSync(file, "utf8");
    assert.match(text, /^# yaml-language-server: \$schema=.*schema\/cluster\.schema\.json\n/);
    assert.equal(kubeha("plan", "-f", file).code, 0);
    const again = kubeha("init", "-o", file);
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists already/);
  });

  it("imports the RKE example into a spec that plans", () => {
    const dir = scratch("import");
    const out = join(dir, "cluster.yaml");
    const r = kubeha("import", "rke", "examples/rke-10-node/cluster.yml", "-o", out);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: network not carried over/);
    assert.equal(kubeha("plan", "-f", out).code, 0);
  });

  it("prints the JSON Schema", () => {
    const r = kubeha("schema");
    assert.equal(r.code, 0);
    assert.equal(JSON.parse(r.stdout).properties.kind.const, "Cluster");
  });
});

describe("kubeha pki and certs", () => {
  it("generates, checks and rotates without printing key material", async () => {
    const { copyFileSync } = await import("node:fs");
    const dir = scratch("cli-pki");
    const spec = join(dir, "cluster.yaml");
    copyFileSync(join(root, "examples/stacked-3/cluster.yaml"), spec);
    const gen = kubeha("pki", "generate", "-f", spec);
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, /stacked\.kubeha\/pki: \d+ created, 0 re-issued/);
    const again = kubeha("pki", "generate", "-f", spec);
    assert.match(again.stdout, /no changes/);

    const check = kubeha("certs", "check", "-f", spec, "-o", "json");
    assert.equal(check.code, 0, check.stderr);
    const rows = JSON.parse(check.stdout).certificates;
    assert.ok(rows.length > 10 && rows.every((r: { status: string }) => r.status === "ok"));

    writeFileSync(
      spec,
      readFileSync(spec, "utf8").replace("port: 6443 }", "port: 6443, dnsNames: [k8s.example.com] }"),
    );
    const stale = kubeha("certs", "check", "-f", spec);
    assert.equal(stale.code, 1);
    assert.match(stale.stdout, /names out of date \(lacks k8s\.example\.com\)/);
    assert.match(stale.stderr, /some certificates need action/);

    const rotate = kubeha("certs", "rotate", "-f", spec, "--ca");
    assert.equal(rotate.code, 0, rotate.stderr);
    assert.match(rotate.stdout, /old CAs and service-account key kept in/);
    assert.match(rotate.stdout, /master1: \d+ files: /);
    for (const out of [gen, again, check, stale, rotate]) {
      assert.doesNotMatch(out.stdout + out.stderr, /PRIVATE KEY|client-key-data/);
    }
  });
});
