/** The deploy engine on scripted hosts: dry-run through the same path, idempotency, errors gathered per host. */
import assert from "node:assert/strict";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { AddonApplier } from "../addons/apply.js";
import { RELEASE_BINARIES } from "../binaries/kubernetes.js";
import { report } from "../cli/run.js";
import { ExpectedExit, HostError, MultiHostError, SpecError } from "../core/errors.js";
import { AGENT_CONFIG, HostPki, kubernetesPath, pkiPath, Unit, unitPath } from "../core/host-paths.js";
import type { Connector } from "../deploy/context.js";
import { changedFiles, scratch, snapshot, x509Text } from "../pki/pki-fixtures.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { FakeHost, type Script } from "../transport/fake.js";
import { up } from "./up.js";
import { quiet } from "./up-fixtures.js";

/** The add-ons' API, scripted: every object already as applied (a real API is tested in addons/). */
const unchanged = (): AddonApplier => ({
  apply: async (addon) =>
    addon.objects.map((o) => ({ object: `${o.kind} ${o.metadata?.name}`, changed: false, created: false })),
  rolledOut: async () => undefined,
});
const opts = {
  dryRun: false,
  concurrency: 4,
  allowMemberRemoval: false,
  specDir: ".",
  addonApplier: unchanged,
};

/** A directory of Kubernetes "binaries": small scripts named like the release's, as `kubernetes.binaries.source: dir` reads them. */
const releaseDir = (() => {
  const dir = scratch("release");
  for (const name of RELEASE_BINARIES) {
    writeFileSync(join(dir, name), `#!/bin/sh\necho ${name} v1.34.2\n`, { mode: 0o755 });
  }
  return dir;
})();

/** The spec object of cp1..cp3 (controlplane, etcd) and w1, no ingress, Kubernetes binaries from a directory, to mutate. */
function smallSpec() {
  const spec = baseSpec();
  spec.spec.hosts = spec.spec.hosts.slice(0, 4);
  delete spec.spec.ingress;
  spec.spec.kubernetes = { binaries: { source: "dir", path: releaseDir } };
  spec.spec.etcd = { ...spec.spec.etcd, binaries: { source: "package" } };
  return spec;
}

function cluster() {
  return loadObject(smallSpec()).cluster;
}

/** Fake hosts whose etcd answers like a healthy new 3-member cluster once started. */
function fakes() {
  const members =
    "a1, started, cp1, https://192.168.61.11:2380, https://192.168.61.11:2379, false\nb2, started, cp2, https://192.168.61.12:2380, https://192.168.61.12:2379, false\nc3, started, cp3, https://192.168.61.13:2380, https://192.168.61.13:2379, false\n";
  const script: Script = [
    [/^curl .*\/version$/, { stdout: '{"gitVersion":"v1.34.2-kubeha-standin","standin":true}' }],
    [/^curl .*\/(readyz|healthz)'$/, {}],
    [/etcdctl .* endpoint health/, {}],
    [/etcdctl .* member list/, { stdout: members }],
    [
      /etcdctl .* endpoint status/,
      { stdout: "https://192.168.61.11:2379, a1, 3.4.23, 20 kB, true, false, 2, 8, 8, \n" },
    ],
    ...fakeEtcdAuth(),
    // Verify nodes: every kubelet answers through the node proxy; each host's runtime, kubelet and kube-proxy
    [
      /^printf '%s %s\\n' /,
      (c) => ({
        stdout: [...c.matchAll(/printf '%s %s\\n' '([^']+)'/g)].map((m) => `${m[1]} ok\n`).join(""),
      }),
    ],
    [/^ctr version/, { stdout: "1.6.20~ds1\n200\n200\n" }],
  ];
  // cp1 holds the API VIP
  const vip = (n: string): Script => [
    [
      /^ip -o addr show to /,
      { stdout: n === "cp1" ? "2: eth0    inet 192.168.61.100/32 scope global eth0\n" : "" },
    ],
  ];
  const hosts = new Map(["cp1", "cp2", "cp3", "w1"].map((n) => [n, new FakeHost(n, [...vip(n), ...script])]));
  const connect: Connector = async (host) => hosts.get(host.name) as FakeHost;
  return { hosts, connect };
}

/** etcdctl's auth commands against one remembered auth state, as etcd 3.4 prints them. */
function fakeEtcdAuth(): Script {
  let enabled = false;
  let role: string | undefined;
  const users = new Map<string, string[]>();
  const granted =
    "KV Read:\n\t[/kubeha/, /kubeha0) (prefix /kubeha/)\nKV Write:\n\t[/kubeha/, /kubeha0) (prefix /kubeha/)\n";
  const word = (c: string, i: number) => c.split(" ").at(i) ?? "";
  const does = (effect: (c: string) => void) => (c: string) => {
    effect(c);
    return { stdout: "" };
  };
  return [
    [
      /--user=kubeha-auth-probe/,
      () => ({
        code: 1,
        stderr: enabled ? "authentication failed" : "etcdserver: authentication is not enabled",
      }),
    ],
    [/etcdctl .* user list$/, () => ({ stdout: [...users.keys()].map((u) => `${u}\n`).join("") })],
    [
      /etcdctl .* user get \S+$/,
      (c) => ({ stdout: `User: ${word(c, -1)}\nRoles: ${users.get(word(c, -1))?.join(" ")}\n` }),
    ],
    [
      /etcdctl .* role get kubeha-agent$/,
      () => (role === undefined ? { code: 1, stderr: "role not found" } : { stdout: role }),
    ],
    [
      /etcdctl .* role add kubeha-agent$/,
      does(() => {
        role = "Role kubeha-agent\nKV Read:\nKV Write:\n";
      }),
    ],
    [
      /etcdctl .* role grant-permission kubeha-agent readwrite \/kubeha\/ --prefix=true$/,
      does(() => {
        role = `Role kubeha-agent\n${granted}`;
      }),
    ],
    [/etcdctl .* user add \S+ --no-password$/, does((c) => users.set(word(c, -2), []))],
    [/etcdctl .* user grant-role \S+ \S+$/, does((c) => users.get(word(c, -2))?.push(word(c, -1)))],
    [
      /etcdctl .* auth enable$/,
      does(() => {
        enabled = true;
      }),
    ],
  ];
}

const MUTATING =
  /^(set -e; mkdir -p -m 0700 "\$\(dirname|mkdir -p -m 0700 \/var\/lib\/etcd|systemctl (enable|start|restart|reload|daemon-reload))/;

describe("kubeha up on scripted hosts", () => {
  it("records in a dry run exactly what a real run then does, and touches nothing", async () => {
    const state = join(scratch("up-fake"), "state");
    const dry = fakes();
    const planned = await up(cluster(), state, { ...opts, dryRun: true }, quiet, dry.connect);
    for (const [name, host] of dry.hosts) {
      assert.equal(host.files.size, 0, `${name} got no file`);
      assert.deepEqual(
        host.log.filter((c) => MUTATING.test(c)),
        [],
        `${name} ran nothing that changes it`,
      );
    }
    const real = fakes();
    const done = await up(cluster(), state, opts, quiet, real.connect);
    assert.ok(planned.changes.length > 30);
    assert.ok(planned.changes.some((c) => c.host === "cp1" && c.what === "enable etcd authentication"));
    assert.deepEqual(
      done.changes.map((c) => `${c.host}: ${c.what}`).sort(),
      planned.changes.map((c) => `${c.host}: ${c.what}`).sort(),
    );
    assert.equal(real.hosts.get("cp1")?.files.get(pkiPath(HostPki.etcdServer.key))?.mode, 0o600);
    assert.match(
      real.hosts.get("cp2")?.files.get(unitPath(Unit.etcd))?.content.toString() ?? "",
      /--client-cert-auth=true/,
    );
    assert.equal(
      real.hosts.get("w1")?.files.has(pkiPath(HostPki.etcdServer.key)),
      false,
      "workers get no etcd keys",
    );
    // the release from its directory: the node's binaries everywhere, the control plane's on controlplane hosts only
    for (const name of RELEASE_BINARIES) {
      assert.deepEqual(
        real.hosts.get("cp2")?.files.get(`/usr/local/bin/${name}`)?.content,
        readFileSync(join(releaseDir, name)),
      );
      const node = name === "kubelet" || name === "kube-proxy";
      assert.equal(real.hosts.get("w1")?.files.has(`/usr/local/bin/${name}`), node, name);
    }
    assert.match(
      real.hosts.get("w1")?.files.get(unitPath(Unit.kubelet))?.content.toString() ?? "",
      /--kubeconfig=\/etc\/kubernetes\/kubelet\.conf/,
    );
    assert.ok(done.changes.some((c) => c.host === "w1" && c.what === "start kubelet"));
    assert.match(
      real.hosts.get("cp2")?.files.get(unitPath(Unit.apiserver))?.content.toString() ?? "",
      /ExecStart=\/usr\/local\/bin\/kube-apiserver \\\n {2}--advertise-address=192\.168\.61\.12 /,
    );
    assert.ok(done.changes.some((c) => c.host === "cp3" && c.what === "start kube-scheduler"));
  });

  it("changes no file on a second run", async () => {
    const state = join(scratch("up-fake2"), "state");
    const f = fakes();
    await up(cluster(), state, opts, quiet, f.connect);
    const again = await up(cluster(), state, opts, quiet, f.connect);
    assert.deepEqual(again.changes, []);
  });

  it("writes every kubeconfig that carries a client key as 0600", async () => {
    const state = join(scratch("up-fake-kubeconfigs"), "state");
    const f = fakes();
    await up(cluster(), state, opts, quiet, f.connect);
    const kubeconfigs = {
      w1: [HostPki.kubeconfig("kubelet"), HostPki.kubeconfig("kube-proxy")],
      cp2: [
        HostPki.kubeconfig("kubelet"),
        HostPki.kubeconfig("kube-proxy"),
        HostPki.kubeconfig("controller-manager"),
        HostPki.kubeconfig("scheduler"),
      ],
    };
    for (const [name, files] of Object.entries(kubeconfigs)) {
      for (const rel of files) {
        const file = f.hosts.get(name)?.files.get(kubernetesPath(rel));
        assert.ok(file, `${name} got ${rel}`);
        assert.match(
          file.content.toString(),
          /client-key-data: \S+/,
          `${name}'s ${rel} carries a client key`,
        );
        assert.equal(file.mode.toString(8), "600", `${name}'s ${rel} is 0600`);
      }
    }
    assert.equal(f.hosts.get("w1")?.files.has(kubernetesPath(HostPki.kubeconfig("scheduler"))), false);
  });

  it("reports failures on several hosts together and changes nothing", async () => {
    const state = join(scratch("up-fake3"), "state");
    const f = fakes();
    const connect: Connector = async (host, ctx) => {
      if (host.name === "cp2" || host.name === "w1")
        throw new HostError(host.name, "connect", `cannot reach ${host.address}:22: timed out`);
      return f.connect(host, ctx);
    };
    await assert.rejects(up(cluster(), state, opts, quiet, connect), (err: unknown) => {
      assert.ok(err instanceof MultiHostError);
      assert.equal(
        err.message,
        "Connect failed on 2 hosts: cp2: cannot reach 192.168.61.12:22: timed out; w1: cannot reach 192.168.61.21:22: timed out",
      );
      return true;
    });
    for (const host of f.hosts.values()) assert.equal(host.files.size, 0);
  });
});

describe("kubeha up on hosts that cannot be nodes yet", () => {
  it("names each host and what to do before anything changes: swap on, no overlay, a package apt lacks, no clock sync", async () => {
    const state = join(scratch("up-preflight"), "state");
    const f = fakes();
    const fact = (host: string, key: string, value: string) => {
      (f.hosts.get(host) as FakeHost).facts[key] = value;
    };
    fact("cp2", "swap", "2097148");
    fact("cp3", "overlay", "no");
    fact("w1", "installed", "containerd runc conntrack iptables");
    fact("w1", "installable", "");
    fact("cp1", "clock", "unsynced");
    await assert.rejects(up(cluster(), state, opts, quiet, f.connect), (err: unknown) => {
      assert.ok(err instanceof MultiHostError, String(err));
      const by = new Map(err.failures.map((x) => [x.host, x]));
      assert.deepEqual([...by.keys()].sort(), ["cp1", "cp2", "cp3", "w1"]);
      assert.match(by.get("cp2")?.message ?? "", /swap is on \(2048 MiB\): the kubelet refuses to start/);
      assert.match(by.get("cp2")?.hint ?? "", /swapoff -a .*kubernetes\.kubelet\.swap: NoSwap/);
      assert.match(by.get("cp3")?.message ?? "", /no overlay file system/);
      assert.match(
        by.get("w1")?.message ?? "",
        /^w1: containernetworking-plugins is not installed and apt cannot install it/,
      );
      assert.match(by.get("cp1")?.message ?? "", /clock is not synchronised/);
      assert.ok(err.failures.every((x) => x.phase === "Node preflight"));
      return true;
    });
    for (const host of f.hosts.values()) assert.equal(host.files.size, 0);
    assert.equal(existsSync(join(state, "pki")), false, "the state is not written either");
  });

  it("runs with swap when the spec says how, and installs what a host lacks", async () => {
    const state = join(scratch("up-swap"), "state");
    const f = fakes();
    (f.hosts.get("w1") as FakeHost).facts.swap = "1024";
    (f.hosts.get("w1") as FakeHost).facts.installed = "runc containernetworking-plugins conntrack iptables";
    (f.hosts.get("w1") as FakeHost).facts.installable = "containerd";
    const apt: string[] = [];
    (f.hosts.get("w1") as FakeHost).on(/apt-get install/, (c) => {
      apt.push(c);
      return {};
    });
    const spec = cluster();
    const swapOk = {
      ...spec,
      kubernetes: { ...spec.kubernetes, kubelet: { ...spec.kubernetes.kubelet, swap: "NoSwap" as const } },
    };
    const done = await up(swapOk, state, opts, quiet, f.connect);
    assert.ok(done.changes.some((c) => c.host === "w1" && c.what === "install containerd (apt)"));
    assert.equal(apt.length, 1);
    assert.match(apt[0] ?? "", /apt-get install -y -qq --no-install-recommends 'containerd'/);
    assert.match(
      (f.hosts.get("w1") as FakeHost).files.get("/etc/kubernetes/kubelet-config.yaml")?.content.toString() ??
        "",
      /failSwapOn: false\nmemorySwap:\n {2}swapBehavior: NoSwap/,
    );
  });
});

describe("kubeha up applying add-ons", () => {
  it("applies them through the API once the nodes are verified, in order, and names a rollout that does not finish", async () => {
    const state = join(scratch("up-addons"), "state");
    const f = fakes();
    const calls: string[] = [];
    const applier = (kubeconfig: string): AddonApplier => ({
      apply: async (addon) => {
        calls.push(`apply ${addon.name} via ${kubeconfig.replace(state, "STATE")}`);
        return addon.objects.map((o) => ({
          object: `${o.kind} ${o.metadata?.name}`,
          changed: true,
          created: true,
        }));
      },
      rolledOut: async (addon) => {
        calls.push(`wait ${addon.name}`);
        return addon.name === "coredns" ? "Deployment kube-system/coredns: 0 of 2 available" : undefined;
      },
    });
    await assert.rejects(
      up(cluster(), state, { ...opts, addonApplier: applier }, quiet, f.connect),
      (err: unknown) => {
        assert.ok(err instanceof MultiHostError, String(err));
        assert.equal(err.failures[0]?.host, "api");
        assert.equal(err.failures[0]?.phase, "Apply add-ons");
        assert.match(
          err.message,
          /coredns did not roll out within 300 s: Deployment kube-system\/coredns: 0 of 2 available/,
        );
        return true;
      },
    );
    assert.deepEqual(calls, [
      "apply rbac via STATE/pki/admin.conf",
      "wait rbac",
      "apply pod-network via STATE/pki/admin.conf",
      "wait pod-network",
      "apply coredns via STATE/pki/admin.conf",
      "wait coredns",
    ]);
  });
});

describe("kubeha up on a controlplane host without the VIP's tools", () => {
  it("says which packages to install and changes nothing", async () => {
    const state = join(scratch("up-fake-tools"), "state");
    const f = fakes();
    (f.hosts.get("cp2") as FakeHost).facts.vipmissing = "iputils-arping";
    (f.hosts.get("w1") as FakeHost).facts.vipmissing = "iputils-arping"; // a worker holds no VIP
    await assert.rejects(up(cluster(), state, opts, quiet, f.connect), (err: unknown) => {
      assert.ok(err instanceof MultiHostError, String(err));
      assert.deepEqual(
        err.failures.map((f) => f.host),
        ["cp2"],
      );
      assert.match(
        err.message,
        /cp2: a VIP candidate needs .*arping from iputils.*; missing: iputils-arping/,
      );
      assert.equal(err.hint, "on cp2: apt-get install -y iputils-arping, then run again");
      return true;
    });
    for (const host of f.hosts.values()) assert.equal(host.files.size, 0);
  });
});

describe("kubeha up interrupted on scripted hosts", () => {
  it("still restarts what an interrupted run changed", async () => {
    const state = join(scratch("up-fake4"), "state");
    const f = fakes();
    await up(cluster(), state, opts, quiet, f.connect);
    const spec = smallSpec();
    spec.spec.etcd = { ...spec.spec.etcd, heartbeatMs: 100, electionMs: 1200 };
    const slower = loadObject(spec);
    // the run dies right after cp1's new etcd unit is written, before any restart
    const cp1 = f.hosts.get("cp1") as FakeHost;
    const dying: Connector = async (host, ctx) => {
      const t = (await f.connect(host, ctx)) as FakeHost;
      if (host.name !== "cp1") return t;
      let unitWritten = false;
      const lost = () => new HostError("cp1", "", "SSH connection to 192.168.61.11 failed: connection lost");
      return {
        host: "cp1",
        exec: async (command, o) => {
          if (unitWritten) throw lost();
          const r = await t.exec(command, o);
          unitWritten = command.includes(`'${unitPath(Unit.etcd)}.kubeha-tmp'`);
          return r;
        },
        execBytes: async () => {
          throw lost();
        },
        close: async () => {},
      };
    };
    await assert.rejects(
      up(slower.cluster, state, opts, quiet, dying),
      /failed on 1 host: cp1: SSH connection .* connection lost/,
    );
    assert.match(cp1.files.get(unitPath(Unit.etcd))?.content.toString() ?? "", /--election-timeout=1200/);
    const again = await up(slower.cluster, state, opts, quiet, f.connect);
    assert.ok(
      again.changes.some((c) => c.host === "cp1" && /^restart etcd/.test(c.what)),
      `cp1's etcd is restarted for the unit written before the interruption: ${JSON.stringify(again.changes)}`,
    );
    assert.deepEqual((await up(slower.cluster, state, opts, quiet, f.connect)).changes, []);
  });
});

/** Every file of every fake host, with content hash and mode. */
const hostFiles = (hosts: Map<string, FakeHost>) =>
  [...hosts].flatMap(([name, h]) =>
    [...h.files].map(([path, f]) => `${name}:${path} ${f.content.toString("base64").length} ${f.mode}`),
  );

describe("kubeha up changing etcd", () => {
  it("snapshots etcd on a healthy member before adding a member, and not when etcd stays as it is", async () => {
    const state = join(scratch("up-snapshot"), "state");
    const f = fakes();
    await up(cluster(), state, opts, quiet, f.connect);
    const spec = smallSpec();
    spec.spec.hosts[3].roles = ["worker", "etcd"]; // w1 joins etcd
    const { changes } = await up(
      loadObject(spec).cluster,
      state,
      { ...opts, dryRun: true },
      quiet,
      f.connect,
    );
    const snap = changes.findIndex((c) =>
      /^take a snapshot to \/var\/lib\/kubeha\/etcd-snapshots\/pre-up-\d{8}T\d{6}Z\.db /.test(c.what),
    );
    assert.ok(snap >= 0, changes.map((c) => `${c.host} ${c.what}`).join("\n"));
    assert.match(
      changes[snap]?.what ?? "",
      /the members change from \[cp1, cp2, cp3\] to \[cp1, cp2, cp3, w1\]/,
    );
    const firstEtcdChange = changes.findIndex((c) => c.host === "w1" && /etcd/.test(c.what));
    assert.ok(firstEtcdChange < 0 || snap < firstEtcdChange, "the snapshot comes before w1's etcd changes");
    const same = await up(cluster(), state, { ...opts, dryRun: true }, quiet, f.connect);
    assert.ok(!same.changes.some((c) => /snapshot/.test(c.what)), "no snapshot when etcd does not change");
  });
});

describe("kubeha up refusing a run", () => {
  it("refuses to drop an etcd member before anything changes, on the hosts or in the state", async () => {
    const state = join(scratch("up-refuse"), "state");
    const f = fakes();
    await up(cluster(), state, opts, quiet, f.connect);
    const spec = smallSpec();
    spec.spec.hosts[2].roles = ["controlplane"]; // cp3 leaves etcd
    const before = { files: hostFiles(f.hosts), state: snapshot(state) };
    const logged = new Map([...f.hosts].map(([n, h]) => [n, h.log.length]));
    await assert.rejects(up(loadObject(spec).cluster, state, opts, quiet, f.connect), (err: unknown) => {
      assert.ok(err instanceof ExpectedExit, String(err));
      assert.equal(err.code, "MEMBER_REMOVAL_REFUSED");
      assert.match(err.message, /etcd member cp3 not in the spec/);
      assert.match(err.hint ?? "", /--allow-member-removal/);
      return true;
    });
    for (const [name, host] of f.hosts) {
      const ran = host.log.slice(logged.get(name));
      assert.deepEqual(
        ran.filter((c) => MUTATING.test(c) || /pending && touch/.test(c)),
        [],
        `${name} ran nothing that changes it`,
      );
    }
    assert.deepEqual(hostFiles(f.hosts), before.files, "every host file as it was");
    assert.deepEqual(changedFiles(before.state, snapshot(state)), [], "the state directory as it was");
  });

  it("names the host and the phase when a service fails to restart, exit 1, no stack", async () => {
    const state = join(scratch("up-fail-restart"), "state");
    const f = fakes();
    await up(cluster(), state, opts, quiet, f.connect);
    const spec = smallSpec();
    spec.spec.etcd = { ...spec.spec.etcd, heartbeatMs: 100, electionMs: 1200 }; // every member's unit changes
    (f.hosts.get("cp2") as FakeHost).failOn(
      /^systemctl restart etcd$/,
      "Job for etcd.service failed because the control process exited with error code.",
    );
    let caught: unknown;
    await up(loadObject(spec).cluster, state, opts, quiet, f.connect).catch((err) => {
      caught = err;
    });
    assert.ok(caught instanceof MultiHostError, `a host error, not a bug: ${caught}`);
    assert.equal(caught.failures[0]?.host, "cp2");
    assert.equal(caught.failures[0]?.phase, "Start etcd");
    let out = "";
    assert.equal(
      report(caught, (s) => (out += s)),
      1,
    );
    assert.match(
      out,
      /^error: Start etcd failed on 1 host: cp2: `systemctl restart etcd` exited 1: Job for etcd.service failed/,
    );
    assert.doesNotMatch(out, /internal error|\n\s+at /);
  });
});

describe("kubeha up after an earlier kubeha", () => {
  it("removes the apiserver stand-in unit it replaced before the real unit starts", async () => {
    const state = join(scratch("up-retire"), "state");
    const f = fakes();
    const cp1 = f.hosts.get("cp1") as FakeHost;
    cp1.active.add("kubeha-apiserver-standin");
    cp1.enabled.add("kubeha-apiserver-standin");
    const result = await up(cluster(), state, opts, quiet, f.connect);
    const what = result.changes.filter((c) => c.host === "cp1").map((c) => c.what);
    const removed = what.indexOf("remove kubeha-apiserver-standin (an earlier kubeha's; replaced)");
    assert.ok(removed >= 0, what.join("\n"));
    assert.ok(removed < what.indexOf("start kube-apiserver"), "removed before kube-apiserver starts");
    assert.ok(
      cp1.log.some((c) =>
        c.startsWith(
          "systemctl disable --now kubeha-apiserver-standin 2>&1; rm -f '/etc/systemd/system/kubeha-apiserver-standin.service' '/etc/kubeha/apiserver-standin.json'",
        ),
      ),
    );
    assert.equal(
      result.changes.some((c) => c.host === "cp2" && c.what.startsWith("remove")),
      false,
      "nothing to remove where it never ran",
    );
  });
});

describe("kubeha up twice at once", () => {
  it("runs one and refuses the other before it changes anything", async () => {
    const state = join(scratch("up-twice"), "state");
    const a = fakes();
    const b = fakes();
    const results = await Promise.allSettled([
      up(cluster(), state, opts, quiet, a.connect),
      up(cluster(), state, opts, quiet, b.connect),
    ]);
    assert.equal(results[0].status, "fulfilled");
    assert.equal(results[1].status, "rejected");
    assert.match(String((results[1] as PromiseRejectedResult).reason), /is in use by `kubeha up` \(pid /);
    for (const host of b.hosts.values()) assert.deepEqual(host.log, [], "the refused run reached no host");
  });
});

describe("kubeha up with another cluster's state directory", () => {
  it("says which state directory matches the hosts, and moving data only as a last resort", async () => {
    const dir = scratch("up-wrong-state");
    const right = join(dir, "test.kubeha");
    const where = { ...opts, specDir: dir, specFile: join(dir, "cluster.yaml") };
    const f = fakes();
    await up(cluster(), right, where, quiet, f.connect);
    const wrong = join(dir, "elsewhere", "state");
    await assert.rejects(up(cluster(), wrong, where, quiet, f.connect), (err: unknown) => {
      assert.ok(err instanceof MultiHostError, String(err));
      assert.deepEqual(
        err.failures.map((x) => x.host),
        ["cp1", "cp2", "cp3"],
      );
      assert.match(err.message, /holds etcd data of the cluster whose etcd CA has fingerprint [0-9a-f]{32}/);
      assert.match(err.message, /probably the wrong state directory for these hosts/);
      assert.match(err.hint ?? "", new RegExp(`run again with --state ${right}`));
      assert.match(err.hint ?? "", /only if that cluster is to be thrown away: move .* aside/);
      return true;
    });
    assert.deepEqual([...snapshot(wrong).keys()], [], "nothing was written to the new state directory");
  });
});

describe("kubeha up with hosts named by DNS", () => {
  const named = () => {
    const spec = smallSpec();
    spec.spec.hosts[1].address = "cp2.lab.example";
    spec.spec.hosts[3].address = "w1.lab.example";
    return loadObject(spec).cluster;
  };
  const zone = (answers: Record<string, string>) => {
    const asked: string[] = [];
    const resolver = async (name: string) => {
      asked.push(name);
      const ip = answers[name];
      if (!ip) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${name}`), { code: "ENOTFOUND" });
      return ip;
    };
    return { asked, resolver };
  };

  it("resolves each name once, binds to its address, reaches and certifies the host by name", async () => {
    const state = join(scratch("up-dns"), "state");
    const f = fakes();
    const dns = zone({ "cp2.lab.example": "192.168.61.12", "w1.lab.example": "192.168.61.21" });
    await up(named(), state, opts, quiet, f.connect, dns.resolver);
    assert.deepEqual(dns.asked.sort(), ["cp2.lab.example", "w1.lab.example"]);
    const unit = f.hosts.get("cp2")?.files.get(unitPath(Unit.etcd))?.content.toString() ?? "";
    assert.match(unit, /--listen-client-urls=https:\/\/192\.168\.61\.12:2379,/);
    assert.match(unit, /--advertise-client-urls=https:\/\/cp2\.lab\.example:2379 /);
    assert.match(unit, /--initial-advertise-peer-urls=https:\/\/cp2\.lab\.example:2380 /);
    const server = readFileSync(join(state, "pki/hosts/cp2/pki/etcd/server.crt"), "utf8");
    assert.match(x509Text(server, scratch("up-dns-cert")), /DNS:cp2\.lab\.example/);
    const agent = JSON.parse(f.hosts.get("cp1")?.files.get(AGENT_CONFIG)?.content.toString() ?? "{}");
    assert.ok(agent.frontends[0].backends.includes("cp2.lab.example:6443"), "backends by name");
    assert.equal(
      JSON.parse(f.hosts.get("cp2")?.files.get(AGENT_CONFIG)?.content.toString() ?? "{}").address,
      "192.168.61.12",
      "the VIP goes on the interface of the resolved address",
    );
  });

  it("stops with the spec problem the resolved addresses reveal, before touching a host", async () => {
    const state = join(scratch("up-dns-outside"), "state");
    const f = fakes();
    const dns = zone({ "cp2.lab.example": "10.9.9.9", "w1.lab.example": "192.168.61.11" });
    await assert.rejects(up(named(), state, opts, quiet, f.connect, dns.resolver), (err: unknown) => {
      assert.ok(err instanceof SpecError, String(err));
      const said = err.issues.map((i) => `${i.path}: ${i.message}`);
      assert.ok(
        said.some((s) =>
          /^spec\.hosts\[1\]\.address: controlplane host cp2 \(10\.9\.9\.9\) is outside/.test(s),
        ),
        said.join("\n"),
      );
      assert.ok(
        said.some((s) =>
          /^spec\.hosts\[3\]\.address: address w1\.lab\.example \(192\.168\.61\.11\) is already used by spec\.hosts\[0\]/.test(
            s,
          ),
        ),
        said.join("\n"),
      );
      return true;
    });
    for (const host of f.hosts.values()) assert.deepEqual(host.log, []);
  });

  it("names the host whose name does not resolve", async () => {
    const f = fakes();
    const dns = zone({ "w1.lab.example": "192.168.61.21" });
    await assert.rejects(
      up(named(), join(scratch("up-dns-nx"), "state"), opts, quiet, f.connect, dns.resolver),
      /Resolve host names failed on 1 host: cp2: cannot resolve cp2\.lab\.example: ENOTFOUND/,
    );
  });
});
