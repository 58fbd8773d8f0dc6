/**
 * Generate PKI and gather binaries, locally. The PKI is brought in line with
 * the spec in a scratch copy of the state directory's: nothing in the state
 * changes until every check has passed (phases/save-pki.ts saves it then, and
 * a dry run never does). Then each host's desired files are known.
 */
import { cpSync, existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { etcdPrograms } from "../binaries/etcd.js";
import { kubernetesBinaries, RELEASE_BINARIES } from "../binaries/kubernetes.js";
import { runtimePrograms } from "../binaries/runtime.js";
import { LineCache } from "../core/line-cache.js";
import { DigestCache, type LocalFile } from "../core/local-file.js";
import { pkiDirOf } from "../core/state-dir.js";
import type { DeployContext } from "../deploy/context.js";
import { desiredFiles, readNodeBinary } from "../deploy/desired.js";
import type { Phase } from "../deploy/runner.js";
import { generatePki } from "../pki/generate.js";
import type { Artifacts } from "../services/service.js";

/** Brings a scratch copy of the state's PKI in line with the spec (ctx.pkiDir, ctx.scratchDir); the state is not changed. */
export async function prepareScratchPki(ctx: DeployContext): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), "kubeha-pki-"));
  ctx.scratchDir = scratch;
  const state = pkiDirOf(ctx.stateDir);
  if (existsSync(state)) cpSync(state, join(scratch, "pki"), { recursive: true });
  ctx.pkiDir = join(scratch, "pki");
  const verdicts = new LineCache(join(ctx.stateDir, "pki-verdicts"));
  const n = (await generatePki(ctx.cluster, ctx.pkiDir, { verdicts })).length;
  ctx.caches.push(verdicts);
  ctx.report.info(
    n === 0
      ? "state: every certificate fits the spec"
      : `state: ${n} PKI files to write once the hosts pass their checks`,
  );
}

/**
 * The executables hosts get: etcd's (unless packaged), the Kubernetes
 * release's (unless stand-ins), the host executable. `downloads: false`
 * leaves out what would be downloaded (render lists it instead).
 */
export async function gatherArtifacts(ctx: DeployContext, opts: { downloads: boolean }): Promise<Artifacts> {
  const digests = new DigestCache(join(ctx.stateDir, "digests"));
  const dirs = { specDir: ctx.options.specDir, stateDir: ctx.stateDir, digests };
  const etcd = ctx.cluster.etcd.binaries;
  const programs = etcd.source === "download" && !opts.downloads ? undefined : await etcdPrograms(etcd, dirs);
  if (programs) ctx.report.info(`etcd binaries from ${ctx.cluster.etcd.binaries.source}: ready to upload`);
  const k = ctx.cluster.kubernetes;
  let kubernetes: Map<string, LocalFile> | undefined;
  if (k.binaries.source === "dir" || (k.binaries.source === "download" && opts.downloads)) {
    kubernetes = await kubernetesBinaries(
      k.binaries,
      { version: k.version, arch: k.binaries.arch, names: RELEASE_BINARIES },
      dirs,
    );
    ctx.report.info(
      `Kubernetes ${k.version} (linux/${k.binaries.arch}) from ${k.binaries.source}: ${[...kubernetes.keys()].join(", ")} checked`,
    );
  }
  const rt = ctx.cluster.kubernetes.containerd;
  const runtime = rt.source === "download" && !opts.downloads ? undefined : await runtimePrograms(rt, dirs);
  if (runtime && rt.source !== "package")
    ctx.report.info(
      `containerd ${rt.containerd}, runc ${rt.runc}, CNI plugins ${rt.cni} from ${rt.source}: checked`,
    );
  const nodeBinary = readNodeBinary(digests);
  ctx.caches.push(digests);
  return {
    ...(programs && { etcd: programs }),
    ...(kubernetes && { kubernetes }),
    ...(runtime && { runtime }),
    nodeBinary,
  };
}

/** Removes the scratch PKI. */
export const removeScratch = (ctx: DeployContext) => {
  if (ctx.scratchDir) rmSync(ctx.scratchDir, { recursive: true, force: true });
};

export const PreparePki: Phase<DeployContext> = {
  title: "Generate PKI and gather binaries",
  async run(ctx) {
    await prepareScratchPki(ctx);
    const artifacts = await gatherArtifacts(ctx, { downloads: true });
    for (const host of ctx.hosts) host.desired = desiredFiles(ctx.cluster, host.spec, ctx.pkiDir, artifacts);
  },
  cleanup: removeScratch,
};
