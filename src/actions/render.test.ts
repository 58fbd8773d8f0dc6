/**
 * `kubeha render` on the examples: every file `up` would put on each host,
 * read back from the output directory. The rendered units' command lines are
 * checked against the version's flag list, and every file a flag names is
 * among the files the host gets.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { UsageError } from "../core/errors.js";
import { packageRoot } from "../core/package-info.js";
import { type Component, fieldProblems, flagProblems } from "../kubernetes/flags.js";
import { scratch } from "../pki/pki-fixtures.js";
import { loadCluster } from "../plan/load.js";
import { RENDER_MANIFEST, render } from "./render.js";
import { quiet } from "./up-fixtures.js";

const example = (name: string) => new URL(`examples/${name}/cluster.yaml`, packageRoot).pathname;

/** The flags of a rendered unit's ExecStart, as `--name=value` pairs. */
function execStartFlags(unit: string): [string, string][] {
  const exec = /^ExecStart=\S+((?: \\\n\s+--\S+)*)/m.exec(unit)?.[1] ?? "";
  return [...exec.matchAll(/--([a-z0-9.-]+)=(\S*)/g)].map((m) => [m[1] ?? "", m[2] ?? ""]);
}

/** Every file under `dir`, by its path on the host. */
function filesUnder(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const rel of readdirSync(dir, { recursive: true }).map(String)) {
    const st = statSync(join(dir, rel));
    if (st.isFile() && rel !== RENDER_MANIFEST) out.set(`/${rel}`, st.mode & 0o777);
  }
  return out;
}

describe("kubeha render", () => {
  it("writes every host's files at their paths; the control plane's flags are the version's, and every file they name is delivered", async () => {
    const { cluster } = loadCluster(example("lab"));
    const out = join(scratch("render"), "out");
    const state = join(scratch("render-state"), "state");
    const hosts = await render(cluster, state, out, { specDir: ".", includeSecrets: true }, quiet);
    assert.equal(existsSync(state), false, "the state directory is not written");
    assert.deepEqual(
      hosts.map((h) => h.host),
      cluster.hosts.map((h) => h.name),
    );
    for (const cp of ["cp1", "cp2", "cp3"]) {
      const files = filesUnder(join(out, cp));
      for (const component of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const) {
        const unit = readFileSync(join(out, cp, `etc/systemd/system/${component}.service`), "utf8");
        const flags = execStartFlags(unit);
        assert.ok(flags.length >= 8, `${cp} ${component}: ${flags.length} flags read`);
        assert.deepEqual(flagProblems(component as Component, cluster.kubernetes.version, flags), []);
        const named = flags.flatMap(([, v]) => v.split(",")).filter((v) => v.startsWith("/etc/"));
        assert.deepEqual(
          named.filter((p) => !files.has(p)),
          [],
          `${cp} ${component}: every file a flag names is delivered`,
        );
        assert.ok(files.has(`/usr/local/bin/${component}`), "the stand-in under the real name");
      }
      assert.equal(files.get("/etc/kubernetes/pki/apiserver.key"), 0o600);
      assert.equal(files.get("/etc/kubernetes/encryption-config.yaml"), 0o600);
      assert.match(
        readFileSync(join(out, cp, "etc/systemd/system/kube-apiserver.service"), "utf8"),
        new RegExp(`--advertise-address=${cluster.hosts.find((h) => h.name === cp)?.address}`),
      );
    }
    const w1 = filesUnder(join(out, "w1"));
    assert.equal(w1.has("/etc/systemd/system/kube-apiserver.service"), false, "no control plane on a worker");
    // every host a node: the kubelet's config fields and flags are the version's, and what they name is delivered
    for (const host of cluster.hosts) {
      const files = filesUnder(join(out, host.name));
      const config = parse(readFileSync(join(out, host.name, "etc/kubernetes/kubelet-config.yaml"), "utf8"));
      assert.deepEqual(
        fieldProblems("KubeletConfiguration", cluster.kubernetes.version, config),
        [],
        host.name,
      );
      for (const f of [config.tlsCertFile, config.tlsPrivateKeyFile, config.authentication.x509.clientCAFile])
        assert.ok(files.has(f), `${host.name}: ${f}`);
      const flags = execStartFlags(
        readFileSync(join(out, host.name, "etc/systemd/system/kubelet.service"), "utf8"),
      );
      assert.deepEqual(flagProblems("kubelet", cluster.kubernetes.version, flags), []);
      assert.ok(
        files.has("/etc/containerd/config.toml") && files.has("/etc/kubernetes/kube-proxy-config.yaml"),
      );
    }
    // the add-ons, one file each, every document an object of the schema
    assert.deepEqual(readdirSync(join(out, "addons")), [
      "00-rbac.yaml",
      "01-pod-network.yaml",
      "02-coredns.yaml",
      "03-ingress-controller.yaml",
    ]);
    const docs = parseAllDocuments(readFileSync(join(out, "addons/02-coredns.yaml"), "utf8")).map((d) =>
      d.toJS(),
    );
    assert.deepEqual(
      docs.map((d) => d.kind),
      [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "ConfigMap",
        "Deployment",
        "PodDisruptionBudget",
        "Service",
      ],
    );
    assert.match(
      readFileSync(join(out, "w1", RENDER_MANIFEST), "utf8"),
      /\/usr\/local\/bin\/kubeha-node {2}# binary: left out/,
    );
  });

  it("leaves private keys, kubeconfigs and the encryption key out unless asked, and lists them", async () => {
    const { cluster } = loadCluster(example("lab"));
    const out = join(scratch("render-nosecrets"), "out");
    await render(cluster, join(scratch("render-state2"), "state"), out, { specDir: ".", host: "cp2" }, quiet);
    assert.deepEqual(readdirSync(out), ["cp2"]);
    const files = filesUnder(join(out, "cp2"));
    const secret = [...files.keys()].filter((p) =>
      /PRIVATE KEY|client-key-data|EncryptionConfiguration/.test(readFileSync(join(out, "cp2", p), "utf8")),
    );
    assert.deepEqual(secret, []);
    assert.ok(files.has("/etc/kubernetes/pki/apiserver.crt"));
    const manifest = readFileSync(join(out, "cp2", RENDER_MANIFEST), "utf8");
    assert.match(manifest, /\/etc\/kubernetes\/pki\/apiserver\.key {2}# secret: left out/);
    assert.match(manifest, /\/etc\/kubernetes\/encryption-config\.yaml {2}# secret: left out/);
    await assert.rejects(
      render(cluster, join(scratch("render-state3"), "state"), out, { specDir: ".", host: "cp9" }, quiet),
      (err: unknown) =>
        err instanceof UsageError && /no host cp9 in the spec; its hosts: cp1, cp2/.test(err.message),
    );
  });

  it("lists the release binaries of a real cluster without fetching them", async () => {
    const { cluster } = loadCluster(example("stacked-3"));
    assert.equal(cluster.kubernetes.binaries.source, "download");
    const out = join(scratch("render-real"), "out");
    const first = cluster.hosts[0]?.name ?? "";
    await render(cluster, join(scratch("render-state4"), "state"), out, { specDir: ".", host: first }, quiet);
    const manifest = readFileSync(join(out, first, RENDER_MANIFEST), "utf8");
    assert.match(
      manifest,
      /\/usr\/local\/bin\/kube-apiserver {2}# binary: Kubernetes v1\.34\.2 linux\/amd64 from download/,
    );
    assert.match(manifest, /\/usr\/local\/bin\/kubectl {2}# binary/);
    const unit = readFileSync(join(out, first, "etc/systemd/system/kube-apiserver.service"), "utf8");
    assert.doesNotMatch(unit, /STAND-IN/);
    assert.deepEqual(flagProblems("kube-apiserver", cluster.kubernetes.version, execStartFlags(unit)), []);
  });
});
