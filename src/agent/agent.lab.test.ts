/**
 * The agent on real lab hosts: a worker's node-local proxy in front of three
 * apiserver stand-ins, under faults: a stand-in killed, one stopped (drain),
 * a stand-in's whole host powered off under a long stream, a reload, and the
 * agent itself killed.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { upLab } from "../actions/up-fixtures.js";
import { sleep } from "../core/wait.js";
import { Lab } from "../lab/lab.js";
import { controlPlaneLab, labScratch, labSkipReason } from "../lab/lab-fixtures.js";
import { sshArgs } from "../lab/ssh.js";

const log = (line: string) => process.stderr.write(`# lab: ${line}\n`);
const CURL = "curl -sf -m 3 --cacert /etc/kubernetes/pki/ca.crt";
/** w1's kubelet identity (from its kubelet.conf) for what the apiserver serves only to users: /watch. */
const AS_KUBELET = "--cert /root/kubelet-client.crt --key /root/kubelet-client.key";

describe("agent load balancer on lab hosts", { skip: labSkipReason() }, () => {
  const work = labScratch("agent");
  const labDir = join(work, "lab");
  let lab: Lab;

  /** Runs `command` on `host` over SSH without blocking; resolves with its output and when it ended. */
  const sshAsync = (host: string, command: string) => {
    const p = spawn("ssh", [...sshArgs(labDir, lab.host(host).address), command], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    p.stdout.on("data", (d) => (stdout += d));
    const done = new Promise<{ code: number; stdout: string; endedAt: number }>((resolve) =>
      p.once("exit", (code) => resolve({ code: code ?? 255, stdout, endedAt: Date.now() })),
    );
    return { done, output: () => stdout, kill: () => p.kill() };
  };
  /** A bounded client loop on w1 through its node-local proxy, a new connection per request; prints the failures. */
  const clientLoop = (requests: number) =>
    sshAsync(
      "w1",
      `f=0; for i in $(seq ${requests}); do ${CURL} https://127.0.0.1:6443/version >/dev/null || f=$((f+1)); sleep 0.02; done; echo $f`,
    );
  const backendUp = (address: string) =>
    lab
      .ssh(
        "w1",
        `curl -s 127.0.0.1:9942/metrics | grep 'kubeha_lb_backend_up{frontend="api-local",backend="${address}:6443"}'`,
      )
      .stdout.trim()
      .endsWith(" 1");

  before(async () => {
    lab = await controlPlaneLab(labDir, "192.168.234.0/24", ["w1"], log);
    await upLab(work, labDir);
    const data = (k: string) => `sed -n 's/^ *${k}: //p' /etc/kubernetes/kubelet.conf | base64 -d`;
    const pem = lab.ssh(
      "w1",
      `${data("client-certificate-data")} > /root/kubelet-client.crt; ${data("client-key-data")} > /root/kubelet-client.key`,
    );
    assert.equal(pem.code, 0, pem.stderr);
  });
  after(async () => {
    await Lab.down(labDir, log);
  });

  it("fails no new request while a stand-in is killed with SIGKILL", async () => {
    const loop = clientLoop(150);
    await sleep(1000);
    assert.equal(lab.ssh("cp2", "systemctl kill -s KILL kube-apiserver").code, 0);
    const r = await loop.done;
    // at most the one request in flight on the killed stand-in after its TLS reply (no L4 proxy can replay
    // that); a backend killed before it answered is replaced transparently
    assert.ok(Number(r.stdout.trim()) <= 1, `failed requests: ${r.stdout.trim()}`);
  });

  it("drains a stand-in that is stopped: no failed request, out of rotation within the detection time", async () => {
    const loop = clientLoop(150);
    await sleep(800);
    const stop = sshAsync("cp3", "systemctl stop kube-apiserver");
    const t0 = Date.now();
    let outAt = 0;
    while (Date.now() - t0 < 5000 && !outAt) {
      if (!backendUp(lab.host("cp3").address)) outAt = Date.now();
      else await sleep(100);
    }
    await stop.done;
    const r = await loop.done;
    assert.equal(r.stdout.trim(), "0", "failed requests");
    assert.ok(outAt > 0 && outAt - t0 < 2500, `out of rotation after ${outAt - t0} ms`);
    lab.ssh("cp3", "systemctl start kube-apiserver");
  });

  it("keeps established sessions through a reload", async () => {
    const stream = sshAsync(
      "w1",
      `${CURL.replace("-m 3", "-m 20")} ${AS_KUBELET} -N https://127.0.0.1:6443/watch`,
    );
    await sleep(1500);
    const before = stream.output().split("\n").length;
    assert.equal(lab.ssh("w1", "systemctl reload kubeha-agent").code, 0);
    await sleep(2500);
    assert.ok(stream.output().split("\n").length > before + 1, "the stream kept flowing after the reload");
    stream.kill();
  });

  it("closes a long stream within 2 s when its apiserver's host dies", async () => {
    const stream = sshAsync(
      "w1",
      `${CURL.replace("-m 3", "-m 60")} ${AS_KUBELET} -N https://127.0.0.1:6443/watch`,
    );
    await sleep(1500);
    const host = JSON.parse(stream.output().split("\n")[0] ?? "{}").host as string;
    assert.match(host, /^cp[123]$/);
    const t0 = Date.now();
    await lab.kill(host);
    const r = await Promise.race([stream.done, sleep(10_000).then(() => undefined)]);
    assert.ok(r, "the stream was closed");
    assert.ok(r.endedAt - t0 < 3000, `closed ${r.endedAt - t0} ms after the power-off`);
    assert.equal(
      lab.ssh("w1", `${CURL} https://127.0.0.1:6443/version >/dev/null`).code,
      0,
      "new requests go elsewhere",
    );
    await lab.start(host);
  });

  it("restarts the agent by itself after SIGKILL", async () => {
    const pid = lab.ssh("w1", "systemctl show -p MainPID --value kubeha-agent").stdout.trim();
    lab.ssh("w1", "systemctl kill -s KILL kubeha-agent");
    let back = false;
    for (let i = 0; i < 50 && !back; i++) {
      await sleep(200);
      const now = lab.ssh("w1", "systemctl show -p MainPID --value kubeha-agent").stdout.trim();
      back =
        now !== "0" &&
        now !== pid &&
        lab.ssh("w1", `${CURL} https://127.0.0.1:6443/version >/dev/null`).code === 0;
    }
    assert.ok(back, "a new agent serves again");
  });
});
