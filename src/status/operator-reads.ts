/**
 * What `kubeha status` reads from this machine rather than over SSH: every
 * etcd member over gRPC (the hosts fork nothing for it), the controller
 * manager's and scheduler's leases from a ready apiserver, and an external
 * load balancer's /readyz.
 */
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { httpsUrl } from "../core/ip.js";
import { pkiDirOf } from "../core/state-dir.js";
import type { ClusterContext } from "../deploy/context.js";
import type { EtcdClient } from "../etcd/client.js";
import { VIP_PREFIX } from "../etcd/keyspace.js";
import { clientUrl } from "../etcd/urls.js";
import { ADMIN_CONF, CAS } from "../pki/inventory.js";
import { parseKubeconfig } from "../pki/kubeconfig.js";
import type { ClusterObservation, DirectMember, HostObservation } from "./observation.js";

/** Reads every member over gRPC at once; a member that does not answer its status is left out. */
export async function readMembersDirect(
  ctx: ClusterContext,
  etcd: EtcdClient,
): Promise<Map<string, DirectMember>> {
  const out = new Map<string, DirectMember>();
  await Promise.all(
    ctx.etcdMembers().map(async (m, i) => {
      if (etcd.endpoints[i] !== clientUrl(m.spec)) return;
      const status = await etcd.status(i).catch(() => undefined);
      if (!status) return;
      const [members, alarms, vipKeys, healthy] = await Promise.all([
        etcd.memberList(i).catch(() => undefined),
        etcd.alarms(i).catch(() => undefined),
        etcd.list(VIP_PREFIX, { serializable: true, endpoint: i }).catch(() => undefined),
        etcd.get("health", { endpoint: i }).then(
          () => true,
          () => false,
        ),
      ]);
      out.set(m.spec.name, {
        status,
        healthy,
        ...(members && { members }),
        ...(alarms && { alarms }),
        ...(vipKeys && { vipKeys }),
      });
    }),
  );
  return out;
}

/** GET `url` over TLS (CA, and a client identity when given): code and body, or code 0 and why. */
function apiGet(
  tls: { ca?: string; cert?: string; key?: string },
  url: string,
  timeoutMs: number,
): Promise<{ code: number; body: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const done = (code: number, body: string) =>
      resolve({ code, body, ms: Math.round(performance.now() - t0) });
    const req = request(
      url,
      {
        timeout: timeoutMs,
        agent: false,
        servername: "", // an address, not a name: no SNI (the certificates carry the addresses)
        ...tls,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("end", () => done(res.statusCode ?? 0, body));
      },
    );
    req.once("timeout", () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.once("error", (err) => done(0, err.message));
    req.end();
  });
}

/** The controller-manager's and scheduler's leader election leases, read from a ready apiserver directly. */
export async function leaders(
  ctx: ClusterContext,
  hosts: readonly HostObservation[],
): Promise<ClusterObservation["leaders"]> {
  const ready = hosts.find((h) => h.apiserver?.code === 200);
  if (!ready) return { unknown: "no apiserver is ready" };
  let kubeconfig: ReturnType<typeof parseKubeconfig>;
  try {
    kubeconfig = parseKubeconfig(readFileSync(join(pkiDirOf(ctx.stateDir), ADMIN_CONF), "utf8"));
  } catch {
    kubeconfig = undefined;
  }
  if (!kubeconfig) return { unknown: `no ${ADMIN_CONF} in the state directory ${ctx.stateDir}` };
  const base = `${httpsUrl(ready.address, ctx.cluster.controlPlane.apiserverPort)}/apis/coordination.k8s.io/v1/namespaces/kube-system/leases`;
  const read = async (name: string) => {
    const r = await apiGet(
      { ca: kubeconfig.caPem, cert: kubeconfig.certPem, key: kubeconfig.keyPem },
      `${base}/${name}`,
      2000,
    );
    if (r.code !== 200) return { why: `GET lease ${name} from ${ready.name}: ${r.code || r.body}` };
    const holder = (JSON.parse(r.body) as { spec?: { holderIdentity?: string } }).spec?.holderIdentity ?? "";
    // the identity is "HOSTNAME_UUID"
    return { holder: holder.split("_")[0] ?? holder };
  };
  const [cm, sched] = await Promise.all([read("kube-controller-manager"), read("kube-scheduler")]);
  const why = [cm.why, sched.why].filter(Boolean);
  return {
    ...(cm.holder !== undefined && { controllerManager: cm.holder }),
    ...(sched.holder !== undefined && { scheduler: sched.holder }),
    ...(why.length > 0 && { unknown: why.join("; ") }),
  };
}

/** The external load balancer's /readyz, from this machine, verified against the cluster CA. */
export async function externalEndpoint(ctx: ClusterContext): Promise<ClusterObservation["external"]> {
  const ep = ctx.cluster.controlPlane.endpoint;
  if (ep.mode !== "external") return undefined;
  const url = `${httpsUrl(ep.address, ep.port)}/readyz`;
  let ca: string | undefined;
  try {
    ca = readFileSync(join(pkiDirOf(ctx.stateDir), CAS.ca.cert), "utf8");
  } catch {
    ca = undefined;
  }
  const r = await apiGet(ca ? { ca } : {}, url, 3000);
  return {
    url,
    code: r.code,
    ms: r.ms,
    ...(r.code !== 200 && { error: r.code === 0 ? r.body : `HTTP ${r.code}` }),
  };
}
