/**
 * Write etcd access: an environment file in the state directory that points
 * etcdctl at the cluster with the healthcheck client certificate, so that
 * `set -a; . STATE/etcdctl.env; etcdctl member list` works from the operator's machine.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../core/files.js";
import type { DeployContext } from "../deploy/context.js";
import { hostDir } from "../pki/inventory.js";
import { clientUrl } from "../render/etcd-unit.js";
import type { Phase } from "./phase.js";

export const WriteEtcdAccess: Phase = {
  title: "Write etcd access",
  async run(ctx: DeployContext) {
    const first = ctx.etcdMembers()[0];
    if (!first || ctx.options.dryRun) return;
    const pki = join(ctx.pkiDir, hostDir(first.spec.name), "pki", "etcd");
    const file = join(ctx.stateDir, "etcdctl.env");
    const env = `ETCDCTL_API=3
ETCDCTL_ENDPOINTS=${ctx
      .etcdMembers()
      .map((m) => clientUrl(m.spec))
      .join(",")}
ETCDCTL_CACERT=${join(pki, "ca.crt")}
ETCDCTL_CERT=${join(pki, "healthcheck-client.crt")}
ETCDCTL_KEY=${join(pki, "healthcheck-client.key")}
`;
    if (existsSync(file) && readFileSync(file, "utf8") === env) return;
    writeFileAtomic(file, env, 0o600);
    ctx.report.info(`etcd access for etcdctl: set -a; . ${file}; etcdctl member list`);
  },
};
