/** Generate PKI: bring the state directory's certificates in line with the spec (locally, no network). */
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DeployContext } from "../deploy/context.js";
import { desiredFiles, readNodeBinary } from "../deploy/desired.js";
import { etcdPrograms } from "../etcd/binaries.js";
import { generatePki } from "../pki/generate.js";
import type { Phase } from "./phase.js";

export const GeneratePki: Phase = {
  title: "Generate PKI and gather binaries",
  async run(ctx: DeployContext) {
    if (ctx.options.dryRun) {
      // work on a scratch copy so that a dry run leaves the state directory as it is
      const scratch = mkdtempSync(join(tmpdir(), "kubeha-dry-run-"));
      process.on("exit", () => rmSync(scratch, { recursive: true, force: true }));
      if (existsSync(ctx.pkiDir)) cpSync(ctx.pkiDir, join(scratch, "pki"), { recursive: true });
      ctx.pkiDir = join(scratch, "pki");
    }
    const changes = await generatePki(ctx.cluster, ctx.pkiDir);
    const verb = ctx.options.dryRun ? "would write" : "wrote";
    ctx.report.info(
      changes.length === 0
        ? "state: every certificate fits the spec"
        : `state: ${verb} ${changes.length} PKI files`,
    );
    const programs = await etcdPrograms(ctx.cluster.etcd.binaries, {
      specDir: ctx.options.specDir,
      stateDir: ctx.stateDir,
    });
    if (programs) ctx.report.info(`etcd binaries from ${ctx.cluster.etcd.binaries.source}: ready to upload`);
    const nodeBinary = readNodeBinary();
    for (const host of ctx.hosts)
      host.desired = desiredFiles(ctx.cluster, host.spec, ctx.pkiDir, {
        ...(programs && { etcd: programs }),
        nodeBinary,
      });
  },
};
