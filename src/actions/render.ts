/**
 * `kubeha render`: every file `up` would put on each host, written at its
 * path under `DIR/<host>/`, so an operator can review or version what kubeha
 * deploys. The PKI is brought in line with the spec in scratch, exactly as
 * `up` does (the state directory is not changed), and the binaries are
 * gathered the same way, except downloads, which are listed and not
 * fetched. Private keys, kubeconfigs and the Secrets
 * encryption key are left out unless `includeSecrets`; binaries are left
 * out. `DIR/<host>/.kubeha-render` lists every file with its mode, size and
 * SHA-256, and why one was left out.
 */
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { addons } from "../addons/objects.js";
import { etcdVersionOf } from "../binaries/etcd.js";
import { RELEASE_BINARIES } from "../binaries/kubernetes.js";
import { CNI_PLUGINS, CONTAINERD_PROGRAMS } from "../binaries/runtime.js";
import { InternalError, UsageError } from "../core/errors.js";
import { writeFileAtomic } from "../core/files.js";
import { sha256 } from "../core/hash.js";
import {
  kubeBinary,
  UPLOADED_CNI_DIR,
  UPLOADED_ETCD,
  UPLOADED_ETCDCTL,
  UPLOADED_RUNC,
  UPLOADED_RUNTIME_BIN,
} from "../core/host-paths.js";
import { bytesOf, type Content, LocalFile, lengthOf } from "../core/local-file.js";
import { pkiDirOf } from "../core/state-dir.js";
import { DeployContext, type DeployOptions, type Reporter } from "../deploy/context.js";
import { desiredFiles } from "../deploy/desired.js";
import { gatherArtifacts, prepareScratchPki, removeScratch } from "../phases/prepare-pki.js";
import type { Artifacts } from "../services/service.js";
import type { Cluster } from "../spec/defaults.js";
import { type Resolver, systemResolver } from "../spec/resolve.js";
import { resolveNames } from "./up.js";

/** The manifest of one rendered host. */
export const RENDER_MANIFEST = ".kubeha-render";
/** Where render writes the add-ons, beside the hosts' directories. */
export const ADDONS_DIR = "addons";

const SECRET = /PRIVATE KEY-----|client-key-data:|kind: EncryptionConfiguration/;

/** What a file is: a binary to list, a secret to leave out unless asked, or a file to write. */
export function classify(content: Content, mode: number): "secret" | "binary" | "file" {
  if (content instanceof LocalFile || ((mode & 0o111) !== 0 && content.length > 1024 * 1024)) return "binary";
  return SECRET.test(Buffer.isBuffer(content) ? content.toString("latin1") : content) ? "secret" : "file";
}

export interface RenderOptions {
  readonly specDir: string;
  readonly specFile?: string;
  /** Only this host. */
  readonly host?: string;
  readonly includeSecrets?: boolean;
}

/** One host's rendering. */
export interface RenderedHost {
  readonly host: string;
  readonly written: number;
  readonly secrets: number;
  readonly binaries: number;
}

/** Renders every host of `spec` (or one) under `outDir`. */
export async function render(
  spec: Cluster,
  stateDir: string,
  outDir: string,
  options: RenderOptions,
  report: Reporter,
  resolver: Resolver = systemResolver,
): Promise<RenderedHost[]> {
  if (options.host && !spec.hosts.some((h) => h.name === options.host)) {
    throw new UsageError(
      `no host ${options.host} in the spec; its hosts: ${spec.hosts.map((h) => h.name).join(", ")}`,
    );
  }
  const deploy: DeployOptions = {
    dryRun: true,
    concurrency: 1,
    allowMemberRemoval: false,
    specDir: options.specDir,
    ...(options.specFile && { specFile: options.specFile }),
  };
  const cluster = await resolveNames(spec, deploy, report, resolver);
  const ctx = new DeployContext({
    cluster,
    stateDir,
    pkiDir: pkiDirOf(stateDir),
    options: deploy,
    report,
    connect: () => {
      throw new InternalError("render connects to no host");
    },
  });
  ctx.report.phase("Generate PKI in scratch and render every host's files");
  try {
    await prepareScratchPki(ctx);
    const artifacts = await gatherArtifacts(ctx, { downloads: false });
    const hosts = writeHosts(ctx, artifacts, outDir, options);
    if (!options.host) writeAddons(ctx, outDir);
    return hosts;
  } finally {
    removeScratch(ctx);
  }
}

/** The add-ons `up` applies through the API, one YAML file each under DIR/addons/, in the order they are applied. */
function writeAddons(ctx: DeployContext, outDir: string): void {
  const dir = join(outDir, ADDONS_DIR);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const list = addons(ctx.cluster);
  list.forEach((addon, i) => {
    const text = addon.objects.map((o) => stringify(o.toJSON())).join("---\n");
    writeFileAtomic(join(dir, `${String(i).padStart(2, "0")}-${addon.name}.yaml`), text, 0o644);
  });
  ctx.report.info(
    `${ADDONS_DIR}/: ${list.map((a) => `${a.name} (${a.objects.length} objects)`).join(", ")}, validated against the Kubernetes ${ctx.cluster.kubernetes.version} OpenAPI schema`,
  );
}

function writeHosts(
  ctx: DeployContext,
  artifacts: Artifacts,
  outDir: string,
  options: RenderOptions,
): RenderedHost[] {
  const k = ctx.cluster.kubernetes;
  const out: RenderedHost[] = [];
  for (const host of ctx.hosts.filter((h) => !options.host || h.spec.name === options.host)) {
    const dir = join(outDir, host.spec.name);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const lines: string[] = [];
    const counts = { written: 0, secrets: 0, binaries: 0 };
    const desired = desiredFiles(ctx.cluster, host.spec, ctx.pkiDir, artifacts);
    for (const f of desired.sort((a, b) => a.path.localeCompare(b.path))) {
      const kind = classify(f.content, f.mode);
      const write = kind === "file" || (kind === "secret" && options.includeSecrets);
      if (write) writeFileAtomic(join(dir, f.path), bytesOf(f.content), f.mode);
      if (write) counts.written++;
      else if (kind === "secret") counts.secrets++;
      else counts.binaries++;
      const why = write
        ? ""
        : kind === "secret"
          ? "  # secret: left out (--include-secrets writes it)"
          : "  # binary: left out";
      lines.push(
        `${f.mode.toString(8).padStart(4, "0")} ${String(lengthOf(f.content)).padStart(10)} ${sha256(f.content)} ${f.path}${why}`,
      );
    }
    const listed = (path: string, what: string) => {
      counts.binaries++;
      lines.push(
        `0755 ${"-".padStart(10)} ${"-".padEnd(64)} ${path}  # binary: ${what}, fetched and checked by up`,
      );
    };
    if (k.binaries.source === "download") {
      // every host is a node; controlplane hosts get the control plane and kubectl too
      const controlplane = host.spec.roles.includes("controlplane");
      for (const name of RELEASE_BINARIES.filter(
        (n) => controlplane || n === "kubelet" || n === "kube-proxy",
      ))
        listed(kubeBinary(name), `Kubernetes ${k.version} linux/${k.binaries.arch} from download`);
    }
    const rt = k.containerd;
    if (rt.source === "download") {
      const what = `containerd ${rt.containerd}, runc ${rt.runc}, CNI plugins ${rt.cni} linux/${rt.arch} from download`;
      for (const name of CONTAINERD_PROGRAMS) listed(`${UPLOADED_RUNTIME_BIN}/${name}`, what);
      listed(UPLOADED_RUNC, what);
      for (const name of CNI_PLUGINS) listed(`${UPLOADED_CNI_DIR}/${name}`, what);
    }
    const etcd = ctx.cluster.etcd.binaries;
    if (etcd.source === "download" && host.spec.roles.includes("etcd")) {
      for (const path of [UPLOADED_ETCD, UPLOADED_ETCDCTL])
        listed(path, `etcd ${etcdVersionOf(etcd) ?? etcd.url}`);
    }
    writeFileAtomic(
      join(dir, RENDER_MANIFEST),
      `# every file kubeha up puts on ${host.spec.name}: mode, bytes, sha256, path\n${lines.join("\n")}\n`,
      0o644,
    );
    out.push({ host: host.spec.name, ...counts });
    ctx.report.host(
      host.spec.name,
      `${counts.written} files written, ${counts.secrets} secrets and ${counts.binaries} binaries listed only`,
    );
  }
  return out;
}
