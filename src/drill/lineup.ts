/**
 * Which clients a trial runs and where: from this machine through the API
 * VIP and the ingress VIP, etcd writes, a worker's node-local proxy outside
 * the failure domain, and an address watch on every VIP candidate.
 */
import { HostPki, pkiPath } from "../core/host-paths.js";
import { hostPort, httpsUrl } from "../core/ip.js";
import { KUBEHA_PREFIX } from "../etcd/keyspace.js";
import { operatorEtcdTls } from "../etcd/operator-client.js";
import { clientUrl } from "../etcd/urls.js";
import { apiEndpointUrl } from "../pki/inventory.js";
import { HostList } from "../spec/host-list.js";
import { floatingAddresses } from "../spec/vips.js";
import {
  type Clock,
  type DrillClient,
  etcdWriter,
  httpLoop,
  measureClock,
  remoteCurlLoop,
  SAME_CLOCK,
  watchLoop,
} from "./clients.js";
import { watchAddresses } from "./observers.js";
import type { Setup } from "./session.js";

/**
 * Pause between a client's requests: ten a second each resolves an outage to
 * 0.1 s and keeps the clients' own load (a TLS handshake per new connection)
 * small beside what they measure; a lab shares two cores among its hosts.
 */
const CLIENT_INTERVAL_MS = 100;
/** Clients that open a TLS connection per request ask half as often: a handshake costs the server most. */
const NEW_CONNECTION_INTERVAL_MS = 200;
/** A request that takes longer has failed; long enough that a loaded lab's slow answers are latency, not outages. */
const REQUEST_TIMEOUT_MS = 2000;
/** A watch with a heartbeat each second is stalled after two missed. */
const WATCH_STALL_MS = 2000;

export interface Running {
  readonly clients: DrillClient[];
  readonly writer?: ReturnType<typeof etcdWriter>;
  readonly watches: Awaited<ReturnType<typeof watchAddresses>>[];
  /** Each host's clock against this machine's. */
  readonly clocks: Map<string, Clock>;
  readonly nodeLocal?: string;
}

/**
 * Starts the clients outside the failure domain of a fault on `target`, and
 * the address watches; `sameClock`: the hosts run on this machine's kernel
 * (the lab), so their clock is this one.
 */
export async function startObservers(
  s: Setup,
  target: string,
  maxMs: number,
  sameClock: boolean,
  ingressVip?: string,
): Promise<Running> {
  const { cluster, ctx } = s;
  const limits = { maxMs, intervalMs: CLIENT_INTERVAL_MS };
  const api = apiEndpointUrl(cluster);
  const standin = cluster.kubernetes.binaries.source === "standin";
  const clients: DrillClient[] = [
    httpLoop({
      name: "api-new",
      description: `GET ${api}/readyz, a new connection each`,
      url: `${api}/readyz`,
      reuse: false,
      tls: s.apiTls,
      timeoutMs: REQUEST_TIMEOUT_MS,
      limits: { ...limits, intervalMs: NEW_CONNECTION_INTERVAL_MS },
    }),
    httpLoop({
      name: "api-reused",
      description: `GET ${api}/readyz on one kept-alive connection`,
      url: `${api}/readyz`,
      reuse: true,
      tls: s.apiTls,
      timeoutMs: REQUEST_TIMEOUT_MS,
      limits,
    }),
    watchLoop({
      name: "api-watch",
      description: standin
        ? `a long watch through ${api} (the stand-in's, a heartbeat each second)`
        : `a long watch of kube-system ConfigMaps through ${api}`,
      url: standin
        ? `${api}/watch`
        : `${api}/api/v1/namespaces/kube-system/configmaps?watch=1&allowWatchBookmarks=true&timeoutSeconds=600`,
      tls: s.apiTls,
      heartbeat: standin,
      stallMs: WATCH_STALL_MS,
      limits: { ...limits, intervalMs: 50 },
    }),
  ];
  const clocks = new Map<string, Clock>();
  await Promise.all(
    ctx.hosts.map(async (h) => {
      // a host whose clock cannot be read is taken as this one, as before the clocks were measured
      if (h.transport)
        clocks.set(
          h.spec.name,
          sameClock ? SAME_CLOCK : await measureClock(h.transport).catch(() => SAME_CLOCK),
        );
    }),
  );
  const clockOf = (host: string) => clocks.get(host) ?? SAME_CLOCK;
  let nodeLocal: string | undefined;
  const worker = ctx.hosts.find(
    (h) => !h.spec.roles.includes("controlplane") && h.spec.name !== target && h.transport,
  );
  if (worker?.transport) {
    const url = `${httpsUrl("127.0.0.1", cluster.controlPlane.nodeLocalProxyPort)}/readyz`;
    nodeLocal = "node-local";
    clients.push(
      remoteCurlLoop({
        name: nodeLocal,
        description: `curl ${url} on ${worker.spec.name}, a new connection each (what a pod there sees)`,
        transport: worker.transport,
        url,
        caFile: pkiPath(HostPki.ca.cert),
        run: s.run,
        offsetMs: clockOf(worker.spec.name).offsetMs,
        limits: { ...limits, intervalMs: 250 },
      }),
    );
  }
  let writer: ReturnType<typeof etcdWriter> | undefined;
  const tls = operatorEtcdTls(cluster, s.stateDir);
  const members = new HostList(cluster.hosts).etcdMembers();
  if (tls && members.length > 0) {
    writer = etcdWriter({
      name: "etcd-writes",
      description: `sequential puts under ${KUBEHA_PREFIX}drill/ through every member, read back after the heal`,
      endpoints: members.map(clientUrl),
      tls,
      prefix: `${KUBEHA_PREFIX}drill/${s.run}/${Date.now()}/`,
      limits,
    });
    clients.push(writer);
  }
  const ingress = floatingAddresses(cluster).filter((v) => v.role === "edge");
  const vip = ingress.find((v) => v.address === ingressVip) ?? ingress[0];
  if (vip) {
    const url = `http://${hostPort(vip.address, vip.ports[0] ?? 80)}/`;
    const answered = (code: number) => code > 0 && code < 500;
    clients.push(
      httpLoop({
        name: "ingress-new",
        description: `GET ${url}, a new connection each`,
        url,
        reuse: false,
        timeoutMs: REQUEST_TIMEOUT_MS,
        limits: { ...limits, intervalMs: NEW_CONNECTION_INTERVAL_MS },
        ok: answered,
      }),
      httpLoop({
        name: "ingress-reused",
        description: `GET ${url} on one kept-alive connection`,
        url,
        reuse: true,
        timeoutMs: REQUEST_TIMEOUT_MS,
        limits,
        ok: answered,
      }),
    );
  }
  const vips = floatingAddresses(cluster).map((v) => v.address);
  const candidates = ctx.hosts.filter((h) =>
    floatingAddresses(cluster).some((v) => v.candidates.some((c) => c.name === h.spec.name)),
  );
  const watches = await Promise.all(
    candidates.flatMap((h) =>
      h.transport ? [watchAddresses(h.transport, vips, s.run, maxMs, clockOf(h.spec.name))] : [],
    ),
  );
  return { clients, ...(writer && { writer }), watches, clocks, ...(nodeLocal && { nodeLocal }) };
}
