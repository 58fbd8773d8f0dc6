/**
 * kubeha's control-plane command lines against kubeadm v1.34's for the same
 * topology (an HA cluster with external etcd: the stacked-3 example), flag by
 * flag, from reference/kubernetes-v1.34/kubeadm-flags.md. Every difference
 * must be in KUBEADM_DIFFERENCES with its reason, every entry there must
 * still be a difference, and the README's table must list them all.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { HostPki, pkiPath } from "../core/host-paths.js";
import { packageRoot } from "../core/package-info.js";
import { clientUrlsFor } from "../etcd/urls.js";
import type { Flag } from "../kubernetes/flags.js";
import { loadCluster } from "../plan/load.js";
import { hostIp } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import {
  apiserverFlags,
  controllerManagerFlags,
  KUBEADM_DIFFERENCES,
  type KubeadmDifference,
  schedulerFlags,
} from "./control-plane.js";

type Component = KubeadmDifference["component"];
const cluster = loadCluster(new URL("examples/stacked-3/cluster.yaml", packageRoot).pathname).cluster;
const host = new HostList(cluster.hosts).controlplanes()[0];
if (!host) throw new Error("stacked-3 has a controlplane host");

/** kubeadm's placeholders for this topology. */
const PLACEHOLDERS: Record<string, string | [string, string]> = {
  "<this host's address>": hostIp(host),
  "<every external endpoint, comma-separated>": clientUrlsFor(
    new HostList(cluster.hosts).etcdMembers(),
    host,
  ).join(","),
  "<external CA file>": pkiPath(HostPki.etcdCa.cert),
  "<external client cert/key>": [
    pkiPath(HostPki.apiserverEtcdClient.cert),
    pkiPath(HostPki.apiserverEtcdClient.key),
  ],
  "<service subnet>": cluster.network.serviceCidr,
  "<pod subnet>": cluster.network.podCidr,
};

/** The tables of kubeadm-flags.md: component -> flag -> value, with this topology's values in the placeholders. */
function kubeadmFlags(): Map<Component, Map<string, string>> {
  const md = readFileSync(new URL("reference/kubernetes-v1.34/kubeadm-flags.md", packageRoot), "utf8");
  const out = new Map<Component, Map<string, string>>();
  let current: Map<string, string> | undefined;
  for (const line of md.split("\n")) {
    const heading = /^## (kube-[a-z-]+)$/.exec(line);
    if (heading) {
      current = new Map();
      out.set(heading[1] as Component, current);
      continue;
    }
    if (line.startsWith("## ")) current = undefined;
    const row = /^\| ([a-z][^|]*?) \| (.*) \|$/.exec(line);
    if (!current || !row || row[1] === "flag") continue;
    const names = (row[1] ?? "").split(/ \/ |, /);
    // the value, without notes: "Node,RBAC (left out when ...)", "`<...>` (stacked: ...) — only when given"
    const cell =
      (row[2] ?? "")
        .split(" — ")[0]
        ?.replace(/ \([^)]*\)$/, "")
        .replaceAll("`", "")
        .trim() ?? "";
    const resolved = PLACEHOLDERS[cell];
    let values: string[];
    if (Array.isArray(resolved)) values = resolved;
    else if (resolved !== undefined) values = names.map(() => resolved);
    else if (names.length > 1 && cell.includes(" / ")) {
      const [first = "", ...rest] = cell.split(" / ");
      const dir = first.slice(0, first.lastIndexOf("/") + 1);
      values = [first, ...rest.map((r) => (r.startsWith(".") ? first.replace(/\.[a-z]+$/, r) : dir + r))];
    } else if (names.length > 1 && cell.includes(", ")) {
      values = cell.split(", ").map((v) => (PLACEHOLDERS[v] as string | undefined) ?? v);
    } else values = names.map(() => cell);
    for (const [i, n] of names.entries()) current.set(n, values[i] ?? "");
  }
  return out;
}

const KUBEHA: Record<Component, Flag[]> = {
  "kube-apiserver": apiserverFlags(cluster, host),
  "kube-controller-manager": controllerManagerFlags(cluster),
  "kube-scheduler": schedulerFlags(cluster),
};

/** What a listed value means for this topology. */
const expected = (v: string | undefined) =>
  v === "<this host's address>" ? hostIp(host) : v === "<metadata.name>" ? cluster.name : v;

describe("kubeadm parity", () => {
  const kubeadm = kubeadmFlags();

  it("reads kubeadm's flags from the reference", () => {
    assert.equal(
      kubeadm.get("kube-apiserver")?.get("etcd-keyfile"),
      pkiPath(HostPki.apiserverEtcdClient.key),
    );
    assert.equal(
      kubeadm.get("kube-apiserver")?.get("tls-private-key-file"),
      "/etc/kubernetes/pki/apiserver.key",
    );
    assert.equal(
      kubeadm.get("kube-controller-manager")?.get("cluster-signing-key-file"),
      "/etc/kubernetes/pki/ca.key",
    );
    assert.equal(kubeadm.get("kube-controller-manager")?.get("cluster-cidr"), cluster.network.podCidr);
    assert.equal(kubeadm.get("kube-apiserver")?.get("authorization-mode"), "Node,RBAC");
    assert.equal(kubeadm.get("kube-scheduler")?.size, 5);
    assert.equal(kubeadm.get("kube-apiserver")?.size, 27);
    assert.equal(kubeadm.get("kube-controller-manager")?.size, 17);
  });

  for (const component of ["kube-apiserver", "kube-controller-manager", "kube-scheduler"] as const) {
    it(`${component}: every flag is kubeadm's, or a listed difference with its reason`, () => {
      const theirs = kubeadm.get(component) ?? new Map<string, string>();
      const ours = new Map(KUBEHA[component]);
      const listed = new Map(
        KUBEADM_DIFFERENCES.filter((d) => d.component === component).map((d) => [d.flag, d]),
      );
      const unexplained: string[] = [];
      for (const flag of new Set([...theirs.keys(), ...ours.keys()])) {
        const [a, b] = [theirs.get(flag), ours.get(flag)];
        const d = listed.get(flag);
        const same =
          flag === "etcd-servers"
            ? new Set(a?.split(",")).size ===
              new Set([...(a?.split(",") ?? []), ...(b?.split(",") ?? [])]).size
            : a === b;
        if (same) {
          if (d) unexplained.push(`--${flag}: listed as a difference but both say ${a}`);
          continue;
        }
        if (!d) {
          unexplained.push(`--${flag}: kubeadm ${a ?? "(unset)"}, kubeha ${b ?? "(unset)"}`);
          continue;
        }
        assert.equal(d.kubeadm, a, `--${flag}: kubeadm's value as listed`);
        if (d.kubeha?.startsWith("<3s")) assert.match(b ?? "", /^\d+s$/);
        else assert.equal(expected(d.kubeha), b, `--${flag}: kubeha's value as listed`);
        assert.ok(d.reason.length > 20, `--${flag} has a reason`);
        listed.delete(flag);
      }
      assert.deepEqual(unexplained, []);
      assert.deepEqual([...listed.keys()], [], "listed differences that are not differences");
    });
  }

  it("is in the README, one row per difference", () => {
    const readme = readFileSync(new URL("README.md", packageRoot), "utf8");
    const missing = KUBEADM_DIFFERENCES.filter(
      (d) => !readme.includes(`| ${d.component} | \`--${d.flag}\` |`),
    ).map((d) => `${d.component} --${d.flag}`);
    assert.deepEqual(missing, []);
  });
});
