import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { describe, it } from "node:test";
import { scratch } from "../pki/pki-fixtures.js";
import { ExpectedExit } from "./errors.js";
import { lockFile, lockState } from "./lock.js";

const holder = (dir: string) => JSON.parse(readFileSync(lockFile(dir), "utf8"));

describe("state directory lock", () => {
  it("refuses a second taker, naming who holds it, and lets go on release", () => {
    const dir = scratch("lock");
    const release = lockState(dir, "kubeha up");
    assert.throws(
      () => lockState(dir, "kubeha pki generate"),
      (err: unknown) => {
        assert.ok(err instanceof ExpectedExit);
        assert.equal(err.code, "STATE_LOCKED");
        assert.match(
          err.message,
          new RegExp(`in use by \`kubeha up\` \\(pid ${process.pid} on ${hostname()}\\) since `),
        );
        assert.match(err.hint ?? "", /wait for it to finish/);
        return true;
      },
    );
    release();
    lockState(dir, "kubeha pki generate")();
  });

  it("takes over the lock of a process that died", () => {
    const dir = scratch("lock-stale");
    const dead = spawnSync("true").pid as number;
    writeFileSync(
      lockFile(dir),
      JSON.stringify({ pid: dead, host: hostname(), command: "kubeha up", since: "2026-01-01T00:00:00Z" }),
    );
    const release = lockState(dir, "kubeha up");
    assert.equal(holder(dir).pid, process.pid);
    release();
  });

  it("takes over a lock whose process id now belongs to a later process", () => {
    const dir = scratch("lock-reused");
    writeFileSync(
      lockFile(dir),
      JSON.stringify({ pid: process.pid, start: 1, host: hostname(), command: "kubeha up", since: "x" }),
    );
    lockState(dir, "kubeha up")();
  });

  it("keeps the lock of a live process, and of a process on another machine", async () => {
    const dir = scratch("lock-live");
    const sleeper = spawn("sleep", ["10"]);
    try {
      writeFileSync(
        lockFile(dir),
        JSON.stringify({ pid: sleeper.pid, host: hostname(), command: "kubeha up", since: "x" }),
      );
      assert.throws(() => lockState(dir, "kubeha up"), /in use by `kubeha up` \(pid \d+/);
      writeFileSync(
        lockFile(dir),
        JSON.stringify({ pid: 999999, host: "elsewhere", command: "kubeha up", since: "x" }),
      );
      assert.throws(() => lockState(dir, "kubeha up"), /on elsewhere/);
    } finally {
      sleeper.kill();
    }
  });

  it("leaves a lock it no longer holds alone", () => {
    const dir = scratch("lock-release");
    const release = lockState(dir, "kubeha up");
    writeFileSync(lockFile(dir), JSON.stringify({ pid: 1, host: "elsewhere", command: "other", since: "x" }));
    release();
    assert.equal(holder(dir).command, "other");
  });
});
