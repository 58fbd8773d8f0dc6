/**
 * kubeha's keys in etcd, in one place the CLI can read without importing the
 * agent: everything lives under /kubeha/, the only prefix the agents' etcd
 * role may touch (etcd/auth.ts), far from the apiserver's /registry/.
 */

/** The prefix of every kubeha key. */
export const KUBEHA_PREFIX = "/kubeha/";

/** Election keys of the VIPs: /kubeha/vip/NAME holds the holder's host name on its lease. */
export const VIP_PREFIX = `${KUBEHA_PREFIX}vip/`;

/** The election key of VIP `name` ("api" for the API VIP). */
export const vipKey = (name: string) => `${VIP_PREFIX}${name}`;

/** Ready edges: /kubeha/edge/HOST exists, on the edge's lease, while its ingress controller is ready. */
export const EDGE_PREFIX = `${KUBEHA_PREFIX}edge/`;
export const edgeKey = (host: string) => `${EDGE_PREFIX}${host}`;

/**
 * Edges that were ever ready: /kubeha/edge-seen/HOST, put with no lease at each
 * registration, so its create revision is when the edge first became ready.
 */
export const EDGE_SEEN_PREFIX = `${KUBEHA_PREFIX}edge-seen/`;
export const edgeSeenKey = (host: string) => `${EDGE_SEEN_PREFIX}${host}`;

/** The key the apiserver stand-in reads to prove a linearizable etcd read works. */
export const STANDIN_PROBE_KEY = `${KUBEHA_PREFIX}standin/readyz`;
