/**
 * The lab with real hosts: three systemd-nspawn containers booting systemd on
 * a private bridge, reached over SSH with pinned keys, with the faults drills
 * use, and nothing left behind by `down`.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { sleep } from "../core/wait.js";
import { loadCluster } from "../plan/load.js";
import { Lab } from "./lab.js";
import { labResidue, labScratch, labSkipReason } from "./lab-fixtures.js";
import { labTopology } from "./lab-spec.js";

const log = (line: string) => process.stderr.write(`# lab: ${line}\n`);
const CIDR = "192.168.231.0/24";

/** Retries `probe` every 200 ms for up to `ms`; true as soon as it returns true. */
async function within(ms: number, probe: () => boolean): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    if (probe()) return true;
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
}

describe("lab hosts", { skip: labSkipReason() }, () => {
  const dir = join(labScratch("lab"), "lab");
  const topology = labTopology(
    [
      { name: "cp1", roles: ["controlplane", "etcd"] },
      { name: "cp2", roles: ["controlplane", "etcd"] },
      { name: "w1", roles: ["worker"] },
    ],
    CIDR,
  );
  let lab: Lab;
  const reaches = (from: string, to: string) =>
    lab.ssh(from, `ping -c1 -W1 ${lab.host(to).address}`, 10_000).code === 0;

  before(async () => {
    lab = await Lab.up(dir, topology, log);
  });
  after(async () => {
    await Lab.down(dir, log);
  });

  it("boots every host with systemd, its own name and address, over SSH with a pinned key", () => {
    const knownHosts = readFileSync(join(dir, "known_hosts"), "utf8");
    for (const host of topology.hosts) {
      const r = lab.ssh(host.name, "hostname; systemctl is-system-running; ip -br -4 addr show host0");
      assert.equal(r.code, 0, r.stderr);
      const [name, state, addr] = r.stdout.trim().split("\n");
      assert.equal(name, host.name);
      assert.equal(state, "running");
      assert.match(addr ?? "", new RegExp(`${host.address.replace(/\./g, "\\.")}/24`));
      assert.match(
        knownHosts,
        new RegExp(`^${host.address.replace(/\./g, "\\.")},${host.name} ssh-ed25519 `, "m"),
      );
    }
  });

  it("writes a kubeha spec for its hosts that loads", () => {
    const { cluster } = loadCluster(join(dir, "cluster.yaml"));
    assert.deepEqual(
      cluster.hosts.map((h) => [h.name, h.address]),
      topology.hosts.map((h) => [h.name, h.address]),
    );
    assert.equal(cluster.hosts[0]?.ssh.knownHostsPath, join(dir, "known_hosts"));
    assert.deepEqual(cluster.kubernetes.binaries, { source: "standin" });
  });

  it("has the software a real host would have, with the peers' services off", () => {
    const r = lab.ssh(
      "cp1",
      "command -v etcd etcdctl arping nft keepalived haproxy nginx curl openssl >/dev/null && systemctl is-enabled etcd keepalived haproxy nginx; true",
    );
    assert.deepEqual(r.stdout.trim().split("\n"), ["disabled", "disabled", "disabled", "disabled"]);
  });

  it("partitions a host from the others while the operator keeps its path, and heals it", async () => {
    assert.ok(reaches("cp1", "cp2"), "cp1 reaches cp2 before the partition");
    lab.partition("cp2");
    assert.ok(!reaches("cp1", "cp2"), "cp1 cannot reach cp2");
    assert.ok(!reaches("cp2", "w1"), "cp2 cannot reach w1");
    assert.ok(reaches("cp1", "w1"), "the others still reach each other");
    assert.equal(lab.ssh("cp2", "true").code, 0, "the operator still reaches cp2");
    assert.deepEqual(
      lab
        .status()
        .filter((s) => s.partitioned)
        .map((s) => s.name),
      ["cp2"],
    );
    lab.heal("cp2");
    assert.ok(await within(5000, () => reaches("cp1", "cp2")), "cp1 reaches cp2 again after heal");
  });

  it("kills a host hard and starts it again with the same key and address", async () => {
    const bootId = lab.ssh("w1", "cat /proc/sys/kernel/random/boot_id").stdout.trim();
    await lab.kill("w1");
    assert.equal(lab.status().find((s) => s.name === "w1")?.running, false);
    assert.notEqual(lab.ssh("w1", "true", 10_000).code, 0, "a killed host does not answer");
    await lab.start("w1");
    // StrictHostKeyChecking against the pinned known_hosts: success proves the same host key
    const r = lab.ssh("w1", "cat /proc/sys/kernel/random/boot_id; ip -br -4 addr show host0");
    assert.equal(r.code, 0, r.stderr);
    const [newBoot, addr] = r.stdout.trim().split("\n");
    assert.notEqual(newBoot, bootId, "it really rebooted");
    assert.match(addr ?? "", /192\.168\.231\.13\/24/);
  });

  it("stops a host cleanly", async () => {
    await lab.stop("cp2");
    assert.equal(lab.status().find((s) => s.name === "cp2")?.running, false);
    await lab.start("cp2");
    assert.equal(lab.ssh("cp2", "systemctl is-system-running").stdout.trim(), "running");
  });

  it("leaves nothing behind after down, and down twice is fine", async () => {
    assert.ok(labResidue(dir).length > 0, "the residue check sees a running lab");
    await Lab.down(dir, log);
    assert.deepEqual(labResidue(dir), []);
    assert.equal(existsSync(dir), false);
    await Lab.down(dir, log);
    assert.deepEqual(labResidue(dir), []);
  });
});
