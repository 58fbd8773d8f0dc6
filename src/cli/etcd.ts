/** `kubeha etcd snapshot save|list|verify` and `kubeha etcd restore`. */
import { dirname, resolve } from "node:path";
import type { Command } from "commander";
import { restore, restorePlan } from "../actions/etcd-restore.js";
import { hostSnapshots, readPassphrase, saveSnapshot, verifyBundle } from "../actions/etcd-snapshot.js";
import { clusterStatus, statusConnector } from "../actions/status.js";
import { ExpectedExit, UsageError } from "../core/errors.js";
import { stateDirFor } from "../core/state-dir.js";
import { table } from "../core/table.js";
import { sleep } from "../core/wait.js";
import { bundlePathOf, defaultSnapshotDir, listSnapshots, verifySnapshot } from "../etcd/snapshot-file.js";
import { loadCluster } from "../plan/load.js";
import { ago, formatStatus } from "../status/format.js";
import { specOption } from "./options.js";
import { consoleReporter } from "./up.js";

const stateOption = "--state <dir>";
const stateHelp = "state directory (default: <spec dir>/<cluster name>.kubeha)";
const passphraseHelp =
  "file holding the passphrase of the PKI bundle (default: the environment variable KUBEHA_SNAPSHOT_PASSPHRASE; never on the command line)";

const age = (ms: number, now: number) => ago(new Date(ms).toISOString(), now);

/** How long `restore` waits for status to say healthy before printing it as it is. */
const SETTLE_MS = 30_000;

export function registerEtcd(program: Command): void {
  const etcd = program.command("etcd").description("etcd snapshots and disaster recovery");
  const snapshot = etcd.command("snapshot").description("save, list and verify etcd snapshots");

  snapshot
    .command("save")
    .description(
      "stream a snapshot from a healthy member (not the leader when another is healthy) to this machine, with a manifest and the PKI sealed with a passphrase",
    )
    .addOption(specOption())
    .option(stateOption, stateHelp)
    .option("--out <dir>", "where to write it (default: <state>/snapshots)")
    .option("--passphrase-file <file>", passphraseHelp)
    .option(
      "--no-pki-bundle",
      "write only the snapshot and its manifest (a restore then needs this state directory)",
    )
    .action(
      async (opts: {
        file: string;
        state?: string;
        out?: string;
        passphraseFile?: string;
        pkiBundle: boolean;
      }) => {
        const { cluster } = loadCluster(opts.file);
        const stateDir = stateDirFor(opts.file, cluster.name, opts.state);
        const passphrase = opts.pkiBundle ? readPassphrase(opts.passphraseFile) : undefined;
        if (opts.pkiBundle && !passphrase)
          throw new ExpectedExit("no passphrase for the PKI bundle", {
            code: "NO_PASSPHRASE",
            hint: "set KUBEHA_SNAPSHOT_PASSPHRASE or give --passphrase-file (the bundle holds the CAs' keys); --no-pki-bundle saves the snapshot alone",
          });
        const { db, manifest } = await saveSnapshot(cluster, stateDir, {
          outDir: resolve(opts.out ?? defaultSnapshotDir(stateDir)),
          ...(passphrase && { passphrase }),
          specFile: opts.file,
          connect: statusConnector,
          report: consoleReporter,
        });
        process.stdout.write(
          `\nsaved ${db}: revision ${manifest.revision}, ${manifest.totalKeys} keys, ${manifest.size} bytes, sha256 ${manifest.sha256}\n`,
        );
      },
    );

  snapshot
    .command("list")
    .description(
      "list the snapshots saved here and those kept on the members (scheduled, and taken before an up)",
    )
    .addOption(specOption())
    .option(stateOption, stateHelp)
    .option("--out <dir>", "the directory saved snapshots are in (default: <state>/snapshots)")
    .action(async (opts: { file: string; state?: string; out?: string }) => {
      const { cluster } = loadCluster(opts.file);
      const stateDir = stateDirFor(opts.file, cluster.name, opts.state);
      const dir = resolve(opts.out ?? defaultSnapshotDir(stateDir));
      const now = Date.now();
      const local = listSnapshots(dir).map((s) => [
        "here",
        s.path,
        age(s.mtime.getTime(), now),
        String(s.size),
        s.manifest
          ? `revision ${s.manifest.revision}, ${s.manifest.totalKeys} keys, from ${s.manifest.takenFrom}`
          : "no manifest",
      ]);
      const { snapshots, unreachable } = await hostSnapshots(cluster, stateDir, statusConnector);
      const remote = snapshots.map((s) => [s.host, s.name, age(s.mtime * 1000, now), String(s.size), ""]);
      process.stdout.write(`${table([["where", "snapshot", "age", "bytes", ""], ...local, ...remote])}\n`);
      if (local.length + remote.length === 0)
        process.stdout.write(`no snapshots in ${dir} or on the members\n`);
      if (unreachable.length > 0) process.stdout.write(`not reached: ${unreachable.join(", ")}\n`);
    });

  snapshot
    .command("verify")
    .description(
      "check a snapshot: etcd's own hash, the manifest's size and SHA-256, and (with a passphrase) that its PKI bundle opens",
    )
    .argument("<path>", "the snapshot's .db file")
    .option("--passphrase-file <file>", passphraseHelp)
    .action((path: string, opts: { passphraseFile?: string }) => {
      const s = verifySnapshot(resolve(path));
      const m = s.manifest;
      process.stdout.write(
        `${s.path}: etcd's hash checks${m ? `; size and SHA-256 match the manifest (revision ${m.revision}, ${m.totalKeys} keys, taken ${m.takenAt} from ${m.takenFrom} of ${m.cluster})` : "; no manifest beside it"}\n`,
      );
      const passphrase = readPassphrase(opts.passphraseFile);
      if (passphrase && m?.pkiBundle) {
        process.stdout.write(`${bundlePathOf(s.path)}: opens, ${verifyBundle(s.path, passphrase)} files\n`);
      } else if (m?.pkiBundle) {
        process.stdout.write(`${bundlePathOf(s.path)}: not opened (no passphrase given)\n`);
      }
    });

  etcd
    .command("restore")
    .description(
      "for the loss of etcd's quorum: restore every member from one snapshot onto the spec's hosts (replaced ones too), in a fixed order printed first; re-runnable",
    )
    .addOption(specOption())
    .requiredOption("--from <path>", "the snapshot's .db file")
    .option(stateOption, stateHelp)
    .option("--dry-run", "print the steps and what would change on each host, change nothing")
    .option("--force", "restore although a quorum answers (everything written since the snapshot is lost)")
    .option("--passphrase-file <file>", `${passphraseHelp}; needed when the PKI comes from the bundle`)
    .option(
      "--replace-pki",
      "take the PKI from the snapshot's bundle although the state has another (moved aside)",
    )
    .option("--concurrency <n>", "hosts worked on at once", "10")
    .action(
      async (opts: {
        file: string;
        from: string;
        state?: string;
        dryRun?: boolean;
        force?: boolean;
        passphraseFile?: string;
        replacePki?: boolean;
        concurrency: string;
      }) => {
        const concurrency = Number(opts.concurrency);
        if (!Number.isInteger(concurrency) || concurrency < 1)
          throw new UsageError("--concurrency must be a whole number of at least 1");
        const { cluster } = loadCluster(opts.file);
        const stateDir = stateDirFor(opts.file, cluster.name, opts.state);
        // checked before anything else: a damaged snapshot stops here, with every member untouched
        const snapshot = verifySnapshot(resolve(opts.from));
        const passphrase = readPassphrase(opts.passphraseFile);
        process.stdout.write(
          `Restore of etcd for cluster ${cluster.name}${opts.dryRun ? " (dry run)" : ""}, in this order:\n`,
        );
        process.stdout.write(
          restorePlan(cluster, snapshot)
            .map((step, i) => `  ${i + 1}. ${step}\n`)
            .join(""),
        );
        const { seconds } = await restore(
          cluster,
          stateDir,
          snapshot,
          {
            dryRun: Boolean(opts.dryRun),
            concurrency,
            allowMemberRemoval: false,
            specDir: dirname(resolve(opts.file)),
            specFile: resolve(opts.file),
            force: Boolean(opts.force),
            replacePki: Boolean(opts.replacePki),
            ...(passphrase && { passphrase }),
          },
          consoleReporter,
        );
        process.stdout.write(`\n${opts.dryRun ? "dry run done" : "restored"} in ${seconds.toFixed(1)} s\n`);
        if (opts.dryRun) return;
        let report = await clusterStatus(cluster, stateDir);
        for (const until = Date.now() + SETTLE_MS; report.exitCode !== 0 && Date.now() < until; ) {
          await sleep(2000);
          report = await clusterStatus(cluster, stateDir);
        }
        process.stdout.write(`\n${formatStatus(report)}`);
        process.exitCode = report.exitCode;
      },
    );
}
