/** The deploy engine on scripted hosts: dry-run through the same path, idempotency, errors gathered per host. */
import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { HostError, MultiHostError } from "../core/errors.js";
import type { Connector, Reporter } from "../deploy/context.js";
import { clusterMarker } from "../phases/validate-hosts.js";
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
    [/^mkdir -p -m 0700 \/var\/lib\/etcd\/kubeha/, {}],
    [/^systemctl (daemon-reload|enable etcd|start --no-block etcd)/, {}],
    [/etcdctl .* endpoint health/, {}],
    [/etcdctl .* member list/, { stdout: members }],
    [
      /etcdctl .* endpoint status/,
      { stdout: "https://192.168.61.11:2379, a1, 3.4.23, 20 kB, true, false, 2, 8, 8, \n" },
    ],
  ];
  const hosts = new Map(["cp1", "cp2", "cp3", "w1"].map((n) => [n, new FakeHost(script)]));
  const connect: Connector = async (host) => hosts.get(host.name) as FakeHost;
  return { hosts, connect };
}

const MUTATING =
  /^(set -e; mkdir -p -m 0700 "\$\(dirname|mkdir -p -m 0700 \/var\/lib\/etcd|systemctl (enable|start|restart|daemon-reload))/;

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
    for (const h of f.hosts.values())
      Object.assign(h.facts, { active: "active", enabled: "enabled", data: "yes" });
    // the members now hold this cluster's marker, as the first run wrote it
    const marker = clusterMarker(join(state, "pki"));
    for (const n of ["cp1", "cp2", "cp3"]) Object.assign(f.hosts.get(n)?.facts ?? {}, { marker });
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
