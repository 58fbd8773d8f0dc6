/** The deploy engine on scripted hosts: dry-run through the same path, idempotency, errors gathered per host. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { HostError, MultiHostError } from "../core/errors.js";
import type { Connector, Reporter } from "../deploy/context.js";
import { scratch } from "../pki/pki-fixtures.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { FakeHost, type Script } from "../transport/fake.js";
import { up } from "./up.js";

const quiet: Reporter = { phase: () => {}, host: () => {}, info: () => {} };
const opts = { dryRun: false, concurrency: 4, allowMemberRemoval: false, specDir: "." };

function cluster() {
  const spec = baseSpec();
  spec.spec.hosts = spec.spec.hosts.slice(0, 4); // cp1..cp3 (etcd), w1
  delete spec.spec.ingress;
  return loadObject(spec).cluster;
}

/** Fake hosts whose etcd answers like a healthy new 3-member cluster once started. */
function fakes() {
  const members =
    "a1, started, cp1, https://192.168.61.11:2380, https://192.168.61.11:2379, false\nb2, started, cp2, https://192.168.61.12:2380, https://192.168.61.12:2379, false\nc3, started, cp3, https://192.168.61.13:2380, https://192.168.61.13:2379, false\n";
  const script: Script = [
    [/^curl .*\/version$/, { stdout: '{"gitVersion":"v1.34.2-kubeha-standin","standin":true}' }],
    [/etcdctl .* endpoint health/, {}],
    [/etcdctl .* member list/, { stdout: members }],
    [
      /etcdctl .* endpoint status/,
      { stdout: "https://192.168.61.11:2379, a1, 3.4.23, 20 kB, true, false, 2, 8, 8, \n" },
    ],
    ...fakeEtcdAuth(),
  ];
  // cp1 holds the API VIP
  const vip = (n: string): Script => [
    [
      /^ip -o addr show to /,
      { stdout: n === "cp1" ? "2: eth0    inet 192.168.61.100/32 scope global eth0\n" : "" },
    ],
  ];
  const hosts = new Map(["cp1", "cp2", "cp3", "w1"].map((n) => [n, new FakeHost([...vip(n), ...script])]));
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
    assert.equal(real.hosts.get("cp1")?.files.get("/etc/kubernetes/pki/etcd/server.key")?.mode, 0o600);
    assert.match(
      real.hosts.get("cp2")?.files.get("/etc/systemd/system/etcd.service")?.content.toString() ?? "",
      /--client-cert-auth=true/,
    );
    assert.equal(
      real.hosts.get("w1")?.files.has("/etc/kubernetes/pki/etcd/server.key"),
      false,
      "workers get no etcd keys",
    );
  });

  it("changes no file on a second run", async () => {
    const state = join(scratch("up-fake2"), "state");
    const f = fakes();
    await up(cluster(), state, opts, quiet, f.connect);
    const again = await up(cluster(), state, opts, quiet, f.connect);
    assert.deepEqual(again.changes, []);
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
      assert.match(err.message, /the API VIP needs .*arping from iputils.*; missing: iputils-arping/);
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
    const spec = baseSpec();
    spec.spec.hosts = spec.spec.hosts.slice(0, 4);
    delete spec.spec.ingress;
    spec.spec.etcd = { heartbeatMs: 100, electionMs: 1200 };
    const slower = loadObject(spec);
    // the run dies right after cp1's new etcd unit is written, before any restart
    const cp1 = f.hosts.get("cp1") as FakeHost;
    const dying: Connector = async (host, ctx) => {
      const t = (await f.connect(host, ctx)) as FakeHost;
      if (host.name !== "cp1") return t;
      let unitWritten = false;
      return {
        exec: async (command, o) => {
          if (unitWritten) throw new Error("connection lost");
          const r = await t.exec(command, o);
          unitWritten = command.includes("'/etc/systemd/system/etcd.service.kubeha-tmp'");
          return r;
        },
        close: async () => {},
      };
    };
    await assert.rejects(up(slower.cluster, state, opts, quiet, dying));
    assert.match(
      cp1.files.get("/etc/systemd/system/etcd.service")?.content.toString() ?? "",
      /--election-timeout=1200/,
    );
    const again = await up(slower.cluster, state, opts, quiet, f.connect);
    assert.ok(
      again.changes.some((c) => c.host === "cp1" && /^restart etcd/.test(c.what)),
      `cp1's etcd is restarted for the unit written before the interruption: ${JSON.stringify(again.changes)}`,
    );
    assert.deepEqual((await up(slower.cluster, state, opts, quiet, f.connect)).changes, []);
  });
});
