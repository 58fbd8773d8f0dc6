/**
 * Write etcd access: an environment file in the state directory that points
 * etcdctl at the cluster with the healthcheck client certificate, so that
 * `set -a; . STATE/etcdctl.env; etcdctl member list` works from the operator's machine.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../core/files.js";
import { HostPki } from "../core/host-paths.js";
import type { DeployContext } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";
import { clientUrl } from "../etcd/urls.js";
import { hostDir } from "../pki/inventory.js";

export const WriteEtcdAccess: Phase<DeployContext> = {
  title: "Write etcd access",
  dryRun: "skip",
  shouldRun: (ctx) => ctx.etcdMembers().length > 0,
  async run(ctx) {
    const members = ctx.etcdMembers();
    const pki = (rel: string) => join(ctx.pkiDir, hostDir(members[0]?.spec.name ?? ""), rel);
    const file = join(ctx.stateDir, "etcdctl.env");
    const env = `ETCDCTL_API=3
ETCDCTL_ENDPOINTS=${members.map((m) => clientUrl(m.spec)).join(",")}
ETCDCTL_CACERT=${pki(HostPki.etcdCa.cert)}
ETCDCTL_CERT=${pki(HostPki.etcdHealthcheckClient.cert)}
ETCDCTL_KEY=${pki(HostPki.etcdHealthcheckClient.key)}
`;
    if (existsSync(file) && readFileSync(file, "utf8") === env) return;
    writeFileAtomic(file, env, 0o600);
    ctx.report.info(`etcd access for etcdctl: set -a; . ${file}; etcdctl member list`);
  },
};
