/**
 * `kubeha up` against real lab hosts: a 3-member etcd over mutual TLS, then
 * idempotency, dry-run, an interrupted run, growth to 5 members through
 * learners under a writer, a dead host, and foreign data.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { HostError, MultiHostError } from "../core/errors.js";
import { sha256 } from "../core/hash.js";
import { packageRoot } from "../core/package-info.js";
import { sleep } from "../core/wait.js";
import type { Reporter } from "../deploy/context.js";
import { statFiles, writeFile } from "../deploy/remote.js";
import { Lab } from "../lab/lab.js";
import {
  controlPlaneLab,
  etcdAccessEnv,
  initPidOf,
  labScratch,
  labSkipReason,
  startClientLoop,
} from "../lab/lab-fixtures.js";
import { changedFiles, snapshot } from "../pki/pki-fixtures.js";
import { loadCluster } from "../plan/load.js";
import type { Host } from "../spec/defaults.js";
import { connectSsh } from "../transport/ssh.js";
import { up } from "./up.js";
import { quiet } from "./up-fixtures.js";

const log = (line: string) => process.stderr.write(`# lab: ${line}\n`);
const opts = { dryRun: false, concurrency: 10, allowMemberRemoval: false, specDir: "." };
const bin = fileURLToPath(new URL("bin/kubeha.js", packageRoot));

describe("kubeha up: etcd on lab hosts", { skip: labSkipReason() }, () => {
  const work = labScratch("up");
  const labDir = join(work, "lab");
  const specFile = join(work, "cluster.yaml");
  const stateDir = join(work, "state");
  let lab: Lab;
  let spec: any;

  const writeSpec = () => writeFileSync(specFile, stringify(spec));
  const cluster = () => loadCluster(specFile).cluster;
  const members = () =>
    (spec.spec.hosts as { name: string; roles: string[] }[]).filter((h) => h.roles.includes("etcd"));
  /** The environment of the etcd access file `up` wrote. */
  const access = () => etcdAccessEnv(stateDir);
  /** etcdctl on the operator side, through the access file. */
  const etcdctl = (args: string[]) =>
    spawnSync("etcdctl", ["--dial-timeout=2s", "--command-timeout=3s", ...args], {
      encoding: "utf8",
      env: access(),
    });
  /** Hashes of everything kubeha writes on a host. */
  const hostHashes = (host: string) =>
    lab.ssh(
      host,
      "find /etc/kubernetes /etc/kubeha /etc/systemd/system/etcd.service /var/lib/etcd/kubeha.cluster -type f 2>/dev/null | sort | xargs sha256sum; stat -c '%a %n' /var/lib/etcd/kubeha 2>/dev/null",
    ).stdout;

  before(async () => {
    lab = await controlPlaneLab(labDir, "192.168.232.0/24", ["w1", "w2"], log);
    copyFileSync(join(labDir, "cluster.yaml"), specFile);
    spec = (await import("yaml")).parse(readFileSync(specFile, "utf8"));
  });
  after(async () => {
    await Lab.down(labDir, log);
  });

  it("brings up a 3-member etcd that serves over mutual TLS only", async () => {
    const result = await up(cluster(), stateDir, opts, quiet);
    assert.ok(result.changes.length > 50, `changes: ${result.changes.length}`);
    const list = etcdctl(["member", "list"]);
    assert.equal(list.status, 0, list.stderr);
    for (const m of members()) assert.match(list.stdout, new RegExp(`started, ${m.name}, https://`));
    assert.equal(etcdctl(["put", "/kubeha-test/a", "1"]).status, 0);
    assert.match(etcdctl(["get", "/kubeha-test/a"]).stdout, /^1$/m);

    const cp1 = lab.host("cp1").address;
    for (const port of [2379, 2380]) {
      const plain = spawnSync("curl", ["-s", "-m", "3", `http://${cp1}:${port}/version`], {
        encoding: "utf8",
      });
      assert.doesNotMatch(plain.stdout, /etcdserver/, `plaintext on ${port} is refused`);
      const noCert = spawnSync(
        "curl",
        ["-s", "-m", "3", "--cacert", join(stateDir, "pki/etcd/ca.crt"), `https://${cp1}:${port}/version`],
        { encoding: "utf8" },
      );
      assert.notEqual(noCert.status, 0, `a client without a certificate is refused on ${port}`);
    }
    const modes = lab.ssh(
      "cp1",
      "stat -c '%a %n' /var/lib/etcd/kubeha /etc/kubernetes/pki/etcd/server.key /etc/kubernetes/pki/etcd/peer.key /etc/kubernetes/pki/apiserver.key /etc/kubernetes/pki/ca.key",
    ).stdout;
    assert.match(modes, /^700 \/var\/lib\/etcd\/kubeha$/m);
    for (const line of modes.trim().split("\n").slice(1)) assert.match(line, /^600 /, line);
  });

  it("changes nothing on a second run", async () => {
    const result = await up(cluster(), stateDir, opts, quiet);
    assert.deepEqual(result.changes, []);
  });

  it("runs the control plane from the real units; kubectl answers through the VIP and a worker's proxy", async () => {
    for (const h of ["cp1", "cp2", "cp3"]) {
      const active = lab.ssh(h, "systemctl is-active kube-apiserver kube-controller-manager kube-scheduler");
      assert.deepEqual(
        active.stdout.trim().split("\n"),
        ["active", "active", "active"],
        `${h}: ${active.stdout}`,
      );
    }
    assert.match(
      lab.ssh("cp1", "cat /usr/local/bin/kube-apiserver").stdout,
      /STAND-IN for kube-apiserver v1\.34\.2/,
    );
    const cmdline = lab.ssh(
      "cp1",
      "tr '\\0' ' ' < /proc/$(systemctl show -p MainPID --value kube-apiserver)/cmdline",
    ).stdout;
    assert.match(cmdline, /kube-apiserver --advertise-address=\S+ .*--etcd-servers=https:\/\/\S+:2379,https/);
    const refused = lab.ssh("cp1", "/usr/local/bin/kube-apiserver --no-such-flag=1");
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^Error: unknown flag: --no-such-flag/);

    const kubectl = (args: string[], netnsPid?: number) => {
      const argv = ["kubectl", "--request-timeout=5s", ...args];
      const r = netnsPid
        ? spawnSync("nsenter", ["-t", String(netnsPid), "-n", ...argv], { encoding: "utf8" })
        : spawnSync(argv[0] ?? "", argv.slice(1), { encoding: "utf8" });
      assert.equal(r.status, 0, `${argv.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    const admin = join(stateDir, "pki/admin.conf");
    assert.match(
      readFileSync(admin, "utf8"),
      /server: https:\/\/192\.168\.232\.100:6443/,
      "admin.conf names the VIP",
    );
    assert.equal(kubectl(["--kubeconfig", admin, "get", "--raw", "/readyz"]).trim(), "ok");
    assert.match(
      JSON.parse(kubectl(["--kubeconfig", admin, "get", "--raw", "/version"])).gitVersion,
      /^v1\.34\.2-kubeha-standin$/,
    );
    assert.equal(JSON.parse(kubectl(["--kubeconfig", admin, "get", "--raw", "/api"])).kind, "APIVersions");
    // w1's kubelet.conf names its node-local proxy, 127.0.0.1:6443: kubectl in w1's network namespace
    const kubelet = join(stateDir, "pki/hosts/w1/kubelet.conf");
    assert.match(readFileSync(kubelet, "utf8"), /server: https:\/\/127\.0\.0\.1:6443/);
    const w1 = initPidOf(lab, "w1");
    assert.equal(
      JSON.parse(kubectl(["--kubeconfig", kubelet, "get", "--raw", "/api"], w1)).kind,
      "APIVersions",
    );
    for (const [port, path] of [
      [10257, "healthz"],
      [10259, "readyz"],
    ]) {
      const r = lab.ssh(
        "cp2",
        `curl -sS -m 3 --cacert /etc/kubernetes/pki/ca.crt https://127.0.0.1:${port}/${path}`,
      );
      assert.equal(r.stdout, "ok", `cp2:${port}/${path}: ${r.stdout}${r.stderr}`);
    }
  });

  it("makes every host a node: containerd, kubelet and kube-proxy from the real units, each kubelet registered through its own path and reached back over mutual TLS", async () => {
    const names = (spec.spec.hosts as { name: string }[]).map((h) => h.name);
    const w1Address = (spec.spec.hosts as { name: string; address: string }[]).find(
      (h) => h.name === "w1",
    )?.address;
    for (const h of names) {
      const active = lab.ssh(h, "systemctl is-active kubeha-node-setup containerd kubelet kube-proxy");
      assert.deepEqual(
        active.stdout.trim().split("\n"),
        ["active", "active", "active", "active"],
        `${h}: ${active.stdout}`,
      );
      // containerd runs for real and answers its CRI; the kubelet stand-in asked it at start (it exits otherwise)
      assert.match(lab.ssh(h, "ctr version").stdout, /Server:\s+Version:\s+1\.6\./, h);
      assert.equal(lab.ssh(h, "cat /proc/sys/net/ipv4/ip_forward").stdout.trim(), "1", h);
    }
    const cmdline = lab.ssh(
      "w1",
      "tr '\\0' ' ' < /proc/$(systemctl show -p MainPID --value kubelet)/cmdline",
    ).stdout;
    assert.match(cmdline, /kubelet --config=\/etc\/kubernetes\/kubelet-config\.yaml --hostname-override=w1 /);
    const refused = lab.ssh(
      "w1",
      "/usr/local/bin/kubelet --config=/etc/kubernetes/kubelet-config.yaml --no-such-flag=1",
    );
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /unknown flag: --no-such-flag/);

    const admin = join(stateDir, "pki/admin.conf");
    const kubectl = (...args: string[]) => {
      const r = spawnSync("kubectl", ["--request-timeout=5s", "--kubeconfig", admin, ...args], {
        encoding: "utf8",
      });
      assert.equal(r.status, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
      return r.stdout;
    };
    // every Node, registered by its kubelet through its kubeconfig: workers through their node-local
    // proxy, controlplane hosts through their own apiserver; kept in etcd, so any apiserver lists them all
    const nodes = JSON.parse(kubectl("get", "nodes", "-o", "json")).items as {
      metadata: { name: string; labels: Record<string, string> };
      spec: { taints: { key: string }[] };
      status: { addresses: { type: string; address: string }[] };
    }[];
    assert.deepEqual(nodes.map((n) => n.metadata.name).sort(), [...names].sort());
    const byName = new Map(nodes.map((n) => [n.metadata.name, n]));
    assert.equal(byName.get("w1")?.status.addresses[0]?.address, w1Address);
    assert.equal(byName.get("w1")?.metadata.labels["kubeha.io/worker"], "true");
    assert.deepEqual(
      byName.get("cp1")?.spec.taints.map((t) => t.key),
      ["node-role.kubernetes.io/control-plane"],
    );
    assert.deepEqual(byName.get("w1")?.spec.taints, []);
    // the apiserver reaches each kubelet at its InternalIP with its kubelet client certificate and verifies
    // the kubelet's serving certificate against the cluster CA
    for (const n of names) assert.equal(kubectl("get", "--raw", `/api/v1/nodes/${n}/proxy/healthz`), "ok", n);
    // the kubelet's port: anonymous refused, a node's own identity refused, the apiserver's kubelet client allowed
    const kubeletUrl = `https://${w1Address}:10250/pods`;
    const anonymous = lab.ssh(
      "cp1",
      `curl -s -o /dev/null -w '%{http_code}' --cacert /etc/kubernetes/pki/ca.crt ${kubeletUrl}`,
    );
    assert.equal(anonymous.stdout, "401");
    const asApiserver = lab.ssh(
      "cp1",
      `curl -s -o /dev/null -w '%{http_code}' --cacert /etc/kubernetes/pki/ca.crt --cert /etc/kubernetes/pki/apiserver-kubelet-client.crt --key /etc/kubernetes/pki/apiserver-kubelet-client.key ${kubeletUrl}`,
    );
    assert.equal(asApiserver.stdout, "200");
    for (const h of ["cp2", "w2"]) {
      const health = lab.ssh(h, "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:10256/healthz");
      assert.equal(health.stdout, "200", `${h}: kube-proxy healthz`);
    }
  });

  it("rolls an apiserver flag change over cp1..cp3 with no failed request through the VIP or a worker's proxy", async () => {
    spec.spec.kubernetes = { ...spec.spec.kubernetes, apiserver: { extraArgs: { "audit-log-maxage": "7" } } };
    writeSpec();
    const ca = join(stateDir, "pki/ca.crt");
    const loops = [
      startClientLoop({ url: "https://192.168.232.100:6443/version", caFile: ca, maxMs: 120_000 }),
      startClientLoop({
        url: "https://127.0.0.1:6443/version",
        caFile: ca,
        maxMs: 120_000,
        netnsPid: initPidOf(lab, "w1"),
      }),
    ];
    await sleep(1000);
    const t0 = Date.now();
    const result = await up(cluster(), stateDir, opts, quiet);
    const seconds = (Date.now() - t0) / 1000;
    await sleep(1000);
    const [vip, proxy] = await Promise.all(loops.map((l) => l.stop()));
    log(
      `rolling restart in ${seconds.toFixed(1)} s: VIP ${JSON.stringify(vip)}, w1 proxy ${JSON.stringify(proxy)}`,
    );
    assert.deepEqual(
      result.changes.filter((c) => c.what.startsWith("restart")).map((c) => `${c.host}: ${c.what}`),
      ["cp1", "cp2", "cp3"].map(
        (h) => `${h}: restart kube-apiserver (its binary, unit, config or certificates changed)`,
      ),
      "one apiserver at a time, in order",
    );
    for (const h of ["cp1", "cp2", "cp3"]) {
      assert.match(lab.ssh(h, "systemctl cat kube-apiserver").stdout, /--audit-log-maxage=7/);
    }
    for (const [name, tally] of [
      ["VIP", vip],
      ["w1's node-local proxy", proxy],
    ] as const) {
      assert.ok((tally?.ok ?? 0) > 100, `${name}: ${tally?.ok} requests answered`);
      // the goal is 0 (bench/rolling.mjs measures it); the bound leaves room for a loaded CI machine
      assert.ok((tally?.failed ?? 0) <= 3, `${name}: ${tally?.failed} failed: ${tally?.errors.join(", ")}`);
    }
    delete spec.spec.kubernetes.apiserver;
    writeSpec();
    await up(cluster(), stateDir, opts, quiet);
  });

  it("lists a spec change in a dry run and leaves every host and the state as they were", async () => {
    spec.spec.controlPlane.endpoint.dnsNames = ["api.lab.example"];
    writeSpec();
    const before = Object.fromEntries(["cp1", "w1"].map((h) => [h, hostHashes(h)]));
    const state = snapshot(stateDir);
    const result = await up(cluster(), stateDir, { ...opts, dryRun: true }, quiet);
    const what = result.changes.map((c) => `${c.host}: ${c.what}`);
    assert.deepEqual(
      what.sort(),
      ["cp1", "cp2", "cp3"]
        .flatMap((h) => [
          `${h}: write /etc/kubernetes/pki/apiserver.crt (changed)`,
          `${h}: write /etc/kubernetes/pki/apiserver.key (changed)`,
          `${h}: restart kube-apiserver (its binary, unit, config or certificates changed)`,
        ])
        .sort(),
    );
    for (const h of ["cp1", "w1"]) assert.equal(hostHashes(h), before[h], `${h} unchanged`);
    assert.deepEqual(changedFiles(state, snapshot(stateDir)), []);
  });

  it("converges when killed in the middle of a run", async () => {
    const child = spawn(process.execPath, [bin, "up", "-f", specFile, "--state", stateDir], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    await new Promise<void>((resolve) => {
      child.stdout.on("data", (d: Buffer) => {
        if (d.toString().includes("==> Upload")) child.kill("SIGKILL");
      });
      child.once("exit", () => resolve());
    });
    const result = await up(cluster(), stateDir, opts, quiet);
    // whatever the killed run got done, the re-run owes each controlplane at most its two files and the
    // stand-in restart they need (recorded on the host before the files changed)
    assert.ok(
      result.changes.length <= 9,
      `the re-run finishes the change: ${JSON.stringify(result.changes)}`,
    );
    for (const h of ["cp1", "cp2", "cp3"]) {
      assert.doesNotMatch(
        lab.ssh(h, "ls /var/lib/kubeha/pending 2>/dev/null").stdout,
        /apiserver/,
        `${h} owes no restart any more`,
      );
      const served = spawnSync(
        "sh",
        [
          "-c",
          `echo | openssl s_client -connect ${lab.host(h).address}:6443 2>/dev/null | openssl x509 -noout -ext subjectAltName`,
        ],
        { encoding: "utf8" },
      );
      assert.match(
        served.stdout,
        /DNS:api\.lab\.example/,
        `${h}'s stand-in serves the re-issued certificate`,
      );
    }
    assert.deepEqual((await up(cluster(), stateDir, opts, quiet)).changes, []);
    assert.match(etcdctl(["get", "/kubeha-test/a"]).stdout, /^1$/m, "data survived");
  });

  it("grows from 3 to 5 members through learners while a writer keeps writing", async () => {
    for (const h of spec.spec.hosts) if (h.name === "w1" || h.name === "w2") h.roles.push("etcd");
    writeSpec();
    let stop = false;
    let failed = 0;
    let written = 0;
    const env = access();
    const writer = (async () => {
      for (let i = 0; i < 2000 && !stop; i++) {
        const r = await new Promise<number>((resolve) => {
          const p = spawn(
            "etcdctl",
            ["--dial-timeout=2s", "--command-timeout=2s", "put", `/kubeha-test/w/${i}`, "v"],
            { env, stdio: "ignore" },
          );
          p.once("exit", (code) => resolve(code ?? 1));
        });
        if (r === 0) written++;
        else failed++;
        await sleep(20);
      }
    })();
    const result = await up(cluster(), stateDir, opts, quiet);
    stop = true;
    await writer;
    assert.ok(result.changes.some((c) => c.host === "w2" && /promote/.test(c.what)));
    assert.ok(written > 20, `the writer wrote ${written}`);
    assert.ok(failed <= 1, `${failed} writes failed during the change`);
    const list = etcdctl(["member", "list"]).stdout;
    assert.equal(list.trim().split("\n").length, 5);
    assert.doesNotMatch(list, /, true$/m, "no learner left");
    assert.deepEqual((await up(cluster(), stateDir, opts, quiet)).changes, []);
  });

  it("keeps writing with one member's host dead, and up names the host and changes nothing", async () => {
    await lab.kill("cp3");
    try {
      // a client whose first endpoint is the dead member may need its retry, as any etcd client would
      const put = () => etcdctl(["put", "/kubeha-test/b", "2"]).status === 0;
      assert.ok(put() || put(), "writes succeed with 4 of 5 members");
      const changes: string[] = [];
      const report: Reporter = { phase: () => {}, info: () => {}, host: (h, l) => changes.push(`${h} ${l}`) };
      await assert.rejects(up(cluster(), stateDir, opts, report), (err: unknown) => {
        assert.ok(err instanceof MultiHostError);
        assert.match(err.message, /Connect failed on 1 host: cp3: cannot reach 192\.168\.232\.13:22/);
        return true;
      });
      assert.ok(
        changes.every((c) => / connected to /.test(c)),
        changes.join("; "),
      );
    } finally {
      await lab.start("cp3");
    }
    assert.deepEqual(
      (await up(cluster(), stateDir, opts, quiet)).changes.filter((c) => !/start etcd/.test(c.what)),
      [],
    );
  });

  it("pins a host key on first use and refuses a changed one", async () => {
    const host = {
      ...cluster().hosts[0],
      ssh: { ...cluster().hosts[0]?.ssh, knownHostsPath: undefined },
    } as Host;
    const pinned = join(work, "pinned_known_hosts");
    const first = await connectSsh(host, { stateKnownHosts: pinned });
    assert.equal((await first.exec("hostname")).stdout.trim(), "cp1");
    await first.close();
    const labKey = readFileSync(join(labDir, "known_hosts"), "utf8")
      .split("\n")
      .find((l) => l.startsWith("192.168.232.11,"))
      ?.split(" ")
      .slice(1, 3)
      .join(" ");
    assert.equal(
      readFileSync(pinned, "utf8").trim().split(" ").slice(1).join(" "),
      labKey,
      "the pinned key is the host's",
    );
    const again = await connectSsh(host, { stateKnownHosts: pinned });
    await again.close();
    const other = join(work, "other_key");
    spawnSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", other]);
    writeFileSync(
      pinned,
      `192.168.232.11,cp1 ${readFileSync(`${other}.pub`, "utf8").split(" ").slice(0, 2).join(" ")}\n`,
    );
    await assert.rejects(connectSsh(host, { stateKnownHosts: pinned }), (err: unknown) => {
      assert.ok(err instanceof HostError);
      assert.match(
        err.message,
        /host key of cp1 \(192\.168\.232\.11\) changed: pinned SHA256:\S+, offered SHA256:\S+; refusing to connect/,
      );
      assert.match(err.hint ?? "", /remove its old key from/);
      return true;
    });
  });

  it("carries bytes through the SSH transport untouched, both ways", async () => {
    const t = await connectSsh(cluster().hosts[0] as Host, {
      stateKnownHosts: join(work, "bytes_known_hosts"),
    });
    try {
      const bytes = Buffer.concat([
        Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
        randomBytes(1_200_000),
      ]);
      await writeFile(t, "/root/kubeha-bytes.bin", bytes, 0o600); // over 1 MiB: travels gzip-compressed
      const back = await t.execBytes("cat '/root/kubeha-bytes.bin'");
      assert.equal(back.code, 0, back.stderr);
      assert.ok(back.stdout.equals(bytes), `read ${back.stdout.length} bytes, wrote ${bytes.length}`);
      assert.notEqual(
        (await t.exec("cat /root/kubeha-bytes.bin")).stdout.length,
        bytes.length,
        "text would not do",
      );

      // a large file's digest was recorded when it was written: trusted while size, mtime and inode match
      const file = "/root/kubeha-bytes.bin";
      assert.equal((await statFiles(t, [file])).get(file)?.sha256, sha256(bytes));
      // change a byte in place and put the modification time back: only --verify sees it
      await t.exec(
        `m=$(stat -c %.9Y ${file}); printf 'X' | dd of=${file} bs=1 seek=9 conv=notrunc 2>/dev/null; touch -d @$m ${file}`,
      );
      assert.equal(
        (await statFiles(t, [file])).get(file)?.sha256,
        sha256(bytes),
        "the recorded digest is trusted",
      );
      const changed = Buffer.from(bytes);
      changed[9] = "X".charCodeAt(0);
      assert.equal(
        (await statFiles(t, [file], { verify: true })).get(file)?.sha256,
        sha256(changed),
        "--verify",
      );
      await t.exec(`touch ${file}`); // a newer modification time: the record no longer holds
      assert.equal((await statFiles(t, [file])).get(file)?.sha256, sha256(changed));
    } finally {
      await t.exec("rm -f /root/kubeha-bytes.bin /var/lib/kubeha/digests/*");
      await t.close();
    }
  });

  it("refuses a host that holds another cluster's etcd data, without touching it", async () => {
    lab.ssh("w1", "systemctl stop etcd; echo 0000othercluster > /var/lib/etcd/kubeha.cluster");
    await assert.rejects(
      up(cluster(), stateDir, opts, quiet),
      /w1: \/var\/lib\/etcd\/kubeha holds etcd data of the cluster whose etcd CA has fingerprint 0000othercluster/,
    );
    assert.match(
      lab.ssh("w1", "cat /var/lib/etcd/kubeha.cluster; ls /var/lib/etcd/kubeha").stdout,
      /0000othercluster\nmember/,
    );
  });
});
