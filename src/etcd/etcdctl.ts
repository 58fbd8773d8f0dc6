/** etcdctl run on a member host, over mutual TLS with that host's healthcheck client certificate. */
import { HostPki, pkiPath } from "../core/host-paths.js";
import { shq } from "../core/shell.js";
import type { ExecResult, Transport } from "../transport/transport.js";
import { LOCAL_CLIENT_URL } from "./urls.js";

/** A member as `etcdctl member list` reports it. */
export interface Member {
  /** Hex member id, as etcdctl prints and accepts it. */
  readonly id: string;
  readonly started: boolean;
  readonly name: string;
  readonly peerUrls: readonly string[];
  readonly clientUrls: readonly string[];
  readonly isLearner: boolean;
}

/** etcdctl's flags for mutual TLS with a member host's healthcheck client certificate. */
export const ETCDCTL_TLS = `--cacert=${pkiPath(HostPki.etcdCa.cert)} --cert=${pkiPath(HostPki.etcdHealthcheckClient.cert)} --key=${pkiPath(HostPki.etcdHealthcheckClient.key)}`;

/** The command line of `etcdctl args` on a member host against `endpoints` (default: its own member). */
export function etcdctlCommand(args: string, endpoints = LOCAL_CLIENT_URL): string {
  return `ETCDCTL_API=3 etcdctl --endpoints=${shq(endpoints)} ${ETCDCTL_TLS} --dial-timeout=2s --command-timeout=5s ${args}`;
}

/** Runs `etcdctl args` on the host against `endpoints` (default: its own member). */
export function etcdctl(t: Transport, args: string, endpoints = LOCAL_CLIENT_URL): Promise<ExecResult> {
  return t.exec(etcdctlCommand(args, endpoints));
}

/** The members of the cluster, or undefined when the cluster does not answer. */
export async function memberList(t: Transport, endpoints?: string): Promise<Member[] | undefined> {
  const r = await etcdctl(t, "member list -w simple", endpoints);
  if (r.code !== 0) return undefined;
  return r.stdout
    .trim()
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const [id = "", status = "", name = "", peers = "", clients = "", learner = "false"] = line.split(", ");
      return {
        id,
        started: status === "started",
        name,
        peerUrls: peers.split(",").filter(Boolean),
        clientUrls: clients.split(",").filter(Boolean),
        isLearner: learner.trim() === "true",
      };
    });
}

/** The client URL of the leading member in the output of `etcdctl endpoint status -w simple`, or undefined. */
export function leaderInStatus(status: string): string | undefined {
  return status
    .split("\n")
    .find((l) => l.split(", ")[4] === "true")
    ?.split(", ")[0];
}

/** The client URL of the member that leads, from `endpoint status` over `endpoints`, or undefined. */
export async function leaderEndpoint(
  t: Transport,
  endpoints: readonly string[],
): Promise<string | undefined> {
  return leaderInStatus((await etcdctl(t, "endpoint status -w simple", endpoints.join(","))).stdout);
}

/** Whether every endpoint answers a health check (a quorum read through each). */
export async function allHealthy(t: Transport, endpoints: readonly string[]): Promise<boolean> {
  return (await etcdctl(t, "endpoint health", endpoints.join(","))).code === 0;
}

/**
 * etcdctl's JSON prints 64-bit ids (cluster, member, leader, lease) as bare
 * numbers, which JSON.parse would round: they are quoted first and kept as
 * decimal strings.
 */
export function parseEtcdJson(text: string): unknown {
  return JSON.parse(
    text.replace(
      /("(?:cluster_id|member_id|leader|ID|id|lease)":\s*)(\d+)/g,
      (_, key, digits) => `${key}"${digits}"`,
    ),
  );
}

/** One member's view of itself, from `etcdctl endpoint status -w json`. */
export interface EndpointStatus {
  readonly endpoint: string;
  /** Decimal ids. */
  readonly clusterId: string;
  readonly memberId: string;
  readonly leader: string;
  readonly revision: number;
  readonly raftTerm: number;
  readonly raftIndex: number;
  readonly raftAppliedIndex: number;
  readonly dbSize: number;
  readonly dbSizeInUse: number;
  readonly isLearner: boolean;
  readonly version: string;
  /** Errors the member reports about itself (an alarm, say). */
  readonly errors: readonly string[];
}

/** Parses `etcdctl endpoint status -w json`. */
export function parseEndpointStatus(text: string): EndpointStatus[] {
  type Raw = {
    Endpoint: string;
    Status: {
      header: { cluster_id: string; member_id: string; revision: number; raft_term: number };
      version: string;
      dbSize: number;
      dbSizeInUse?: number;
      leader: string;
      raftIndex: number;
      raftTerm: number;
      raftAppliedIndex?: number;
      errors?: string[];
      isLearner?: boolean;
    };
  };
  return (parseEtcdJson(text) as Raw[]).map(({ Endpoint, Status: s }) => ({
    endpoint: Endpoint,
    clusterId: s.header.cluster_id,
    memberId: s.header.member_id,
    leader: s.leader,
    revision: Number(s.header.revision),
    raftTerm: Number(s.raftTerm),
    raftIndex: Number(s.raftIndex),
    raftAppliedIndex: Number(s.raftAppliedIndex ?? s.raftIndex),
    dbSize: Number(s.dbSize),
    dbSizeInUse: Number(s.dbSizeInUse ?? s.dbSize),
    isLearner: Boolean(s.isLearner),
    version: s.version,
    errors: s.errors ?? [],
  }));
}

/** Parses `etcdctl member list -w json` (ids decimal, names as etcd has them). */
export function parseMemberListJson(text: string): { id: string; name: string; isLearner: boolean }[] {
  type Raw = { members?: { ID: string; name?: string; isLearner?: boolean }[] };
  return ((parseEtcdJson(text) as Raw).members ?? []).map((m) => ({
    id: m.ID,
    name: m.name ?? "",
    isLearner: Boolean(m.isLearner),
  }));
}

/** Parses `etcdctl endpoint hashkv -w json`: each endpoint's hash of its key space up to a revision. */
export function parseHashKv(text: string): { endpoint: string; hash: number; compactRevision: number }[] {
  type Raw = { Endpoint: string; HashKV: { hash: number; compact_revision: number } };
  return (parseEtcdJson(text) as Raw[]).map((r) => ({
    endpoint: r.Endpoint,
    hash: Number(r.HashKV.hash),
    compactRevision: Number(r.HashKV.compact_revision),
  }));
}

/** Parses `etcdctl get -w json`: keys and values as text, with each key's lease (decimal, "0": none). */
export function parseGetJson(
  text: string,
): { key: string; value: string; lease: string; createRevision: number; modRevision: number }[] {
  type Raw = {
    kvs?: { key: string; value?: string; lease?: string; create_revision: number; mod_revision: number }[];
  };
  const b64 = (s: string | undefined) => Buffer.from(s ?? "", "base64").toString();
  return ((parseEtcdJson(text) as Raw).kvs ?? []).map((kv) => ({
    key: b64(kv.key),
    value: b64(kv.value),
    lease: kv.lease ?? "0",
    createRevision: Number(kv.create_revision),
    modRevision: Number(kv.mod_revision),
  }));
}

/** Parses `etcdctl alarm list`: "memberID:N alarm:NOSPACE" lines, as "NOSPACE on N". */
export function parseAlarms(text: string): string[] {
  return text
    .split("\n")
    .map((l) => /memberID:(\d+)\s+alarm:(\S+)/.exec(l))
    .flatMap((m) => (m ? [`${m[2]} on member ${m[1]}`] : []));
}
