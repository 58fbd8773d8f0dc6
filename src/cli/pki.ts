/** `kubeha pki generate` and `kubeha certs check|rotate`: the cluster's certificates. */
import type { Command } from "commander";
import { ExpectedExit } from "../core/errors.js";
import { withStateLock } from "../core/lock.js";
import { pkiDirOf, stateDirFor } from "../core/state-dir.js";
import { table } from "../core/table.js";
import { checkCerts, needsAction } from "../pki/check.js";
import { generatePki, type PkiChange } from "../pki/generate.js";
import { filesPerHost, rotateCerts } from "../pki/rotate.js";
import { loadCluster } from "../plan/load.js";
import type { LoadedSpec } from "../spec/load.js";
import { outputOption, specOption } from "./options.js";

interface PkiOpts {
  file: string;
  state?: string;
}

function locate(opts: PkiOpts): { spec: LoadedSpec; stateDir: string; pkiDir: string } {
  const spec = loadCluster(opts.file);
  const stateDir = stateDirFor(opts.file, spec.cluster.name, opts.state);
  return { spec, stateDir, pkiDir: pkiDirOf(stateDir) };
}

function printChanges(pkiDir: string, changes: readonly PkiChange[]): void {
  if (changes.length === 0) {
    process.stdout.write(`${pkiDir}: no changes, every certificate fits the spec\n`);
    return;
  }
  const rows = changes.map((c) => [c.action, c.file, c.reason ?? ""]);
  process.stdout.write(`${table([["ACTION", "FILE", "WHY"], ...rows])}\n`);
  const count = (a: string) => changes.filter((c) => c.action === a).length;
  process.stdout.write(
    `${pkiDir}: ${count("created")} created, ${count("re-issued")} re-issued, ${count("updated")} updated, ${count("mode fixed")} modes fixed\n`,
  );
}

const stateOption = ["--state <dir>", "state directory (default: <spec dir>/<cluster name>.kubeha)"] as const;

export function registerPki(program: Command): void {
  program
    .command("pki")
    .description("the cluster's certificate authorities and certificates")
    .command("generate")
    .description("create or update every CA, certificate, key and kubeconfig the spec needs (idempotent)")
    .addOption(specOption())
    .option(...stateOption)
    .action(async (opts: PkiOpts) => {
      const { spec, stateDir, pkiDir } = locate(opts);
      const changes = await withStateLock(stateDir, "kubeha pki generate", () =>
        generatePki(spec.cluster, pkiDir),
      );
      printChanges(pkiDir, changes);
    });

  const certs = program.command("certs").description("check and rotate certificates");
  certs
    .command("check")
    .description(
      "list every certificate with its names, expiry and status against the spec; exit 1 when any needs action",
    )
    .addOption(specOption())
    .option(...stateOption)
    .addOption(outputOption())
    .action(async (opts: PkiOpts & { output: string }) => {
      const { spec, pkiDir } = locate(opts);
      const rows = await checkCerts(spec.cluster, pkiDir);
      if (opts.output === "json")
        process.stdout.write(`${JSON.stringify({ pkiDir, certificates: rows }, null, 2)}\n`);
      else {
        const lines = rows.map((r) => [
          r.file,
          r.subject,
          r.issuer,
          r.sans.join(","),
          r.notAfter?.slice(0, 10) ?? "-",
          r.daysLeft?.toString() ?? "-",
          r.status + (r.reason ? ` (${r.reason})` : ""),
        ]);
        process.stdout.write(
          `${table([["FILE", "SUBJECT", "ISSUER", "SANS", "NOT AFTER", "DAYS", "STATUS"], ...lines])}\n`,
        );
      }
      if (needsAction(rows)) {
        throw new ExpectedExit("some certificates need action", {
          code: "CERTS_NEED_ACTION",
          hint: "run `kubeha pki generate` (or `kubeha certs rotate`) to re-issue them",
        });
      }
    });

  certs
    .command("rotate")
    .description("re-issue certificates that are due; --force re-issues all; --ca replaces the CAs too")
    .addOption(specOption())
    .option(...stateOption)
    .option(
      "--ca",
      "retire the CAs and the service-account key and make new ones (every host needs new files)",
    )
    .option("--force", "re-issue every leaf certificate, due or not")
    .action(async (opts: PkiOpts & { ca?: boolean; force?: boolean }) => {
      const { spec, stateDir, pkiDir } = locate(opts);
      const result = await withStateLock(stateDir, "kubeha certs rotate", () =>
        rotateCerts(spec.cluster, pkiDir, opts),
      );
      printChanges(pkiDir, result.changes);
      if (result.retiredTo) {
        process.stdout.write(`\nold CAs and service-account key kept in ${pkiDir}/${result.retiredTo}\n`);
        process.stdout.write(
          "every host needs its new files before its services restart (run `kubeha up`):\n",
        );
        for (const [host, files] of filesPerHost(result.changes)) {
          process.stdout.write(`  ${host}: ${files.length} files: ${files.join(", ")}\n`);
        }
        process.stdout.write(
          "service-account tokens signed by the old key stop working; clients need the new admin.conf\n",
        );
      }
    });
}
