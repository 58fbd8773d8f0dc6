/** The VIP's address operations through one `ip` batch, in a network namespace of their own (root). */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { after, describe, it } from "node:test";
import { sleep } from "../../core/wait.js";
import { IpBatch, ipAddressOps } from "./address.js";

const skip = process.getuid?.() === 0 ? false : "needs root for a network namespace (unshare -n)";

describe("address operations through one ip batch", { skip }, () => {
  it("outlives a SIGTERM to every process of the unit, as systemctl stop sends it", async () => {
    const b = new IpBatch();
    await b.run("route get 127.0.0.1");
    const pids = execFileSync("pgrep", ["-P", String(process.pid), "-f", "ip -force -o -batch"], {
      encoding: "utf8",
    })
      .trim()
      .split("\n");
    for (const pid of pids) process.kill(Number(pid), "SIGTERM");
    await sleep(100);
    for (const pid of pids) process.kill(Number(pid), 0); // throws if it died
    assert.equal(await b.run("route get 127.0.0.1"), "");
    b.close();
  });

  // a namespace of its own, so nothing of this machine's network is touched
  const batch = new IpBatch([
    "unshare",
    "-n",
    "sh",
    "-c",
    "ip link set lo up; exec stdbuf -oL ip -force -o -batch - 2>&1",
  ]);
  after(() => batch.close());
  const ops = ipAddressOps("203.0.113.7", "lo", batch);
  const shown = async () => (await batch.run("address show dev lo")).match(/203\.0\.113\.7\/32.*/)?.[0];

  it("adds the address with its lifetime, refreshes it, and removes it; removing it twice is fine", async () => {
    await ops.hold(1);
    assert.match((await shown()) ?? "", /valid_lft 1sec/);
    await ops.hold(5);
    assert.match((await shown()) ?? "", /valid_lft [45]sec/);
    await ops.release();
    assert.equal(await shown(), undefined);
    await ops.release();
  });

  it("runs a thousand refreshes without a process each, in order", async () => {
    const t0 = performance.now();
    await Promise.all(Array.from({ length: 1000 }, (_, i) => ops.hold(i % 2 === 0 ? 1 : 2)));
    assert.match((await shown()) ?? "", /valid_lft 2sec/, "the last one written is the last one done");
    assert.ok(performance.now() - t0 < 20_000);
    await ops.release();
  });

  it("reports a command that fails, and keeps going", async () => {
    await assert.rejects(
      ipAddressOps("203.0.113.8", "no-such-dev", batch).hold(1),
      /ip address replace 203\.0\.113\.8\/32 dev no-such-dev .*(Cannot find device|Command failed)/s,
    );
    await ops.hold(1);
    assert.ok(await shown());
    await ops.release();
  });

  it("reports a batch that ended, and starts a new one for the next command", async () => {
    const dead = new IpBatch(["sh", "-c", "exit 3"]);
    await assert.rejects(dead.run("route get 127.0.0.1"), /ip batch ended \(3\)/);
    // the operations fall back to an ip process of their own (here: this machine, an absent address)
    await ipAddressOps("203.0.113.9", "lo", dead).release();
    dead.close();
    batch.close(); // a fresh namespace comes with the next batch
    await ops.hold(1);
    assert.ok(await shown());
    await ops.release();
  });
});
