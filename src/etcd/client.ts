/**
 * A small etcd v3 client over gRPC with mutual TLS, for the daemons on the
 * hosts (agent, apiserver stand-in): range, put, txn, leases and lease
 * keep-alive streams. etcd maps the client certificate's CN to a user when
 * auth is on, which its JSON gateway cannot do. Endpoints are tried in
 * order; an unreachable one sends the next call to the next endpoint.
 */
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import type { EndpointStatus } from "./etcdctl.js";
import { codec, type KeyValue, keyValue, type Message } from "./proto.js";

export interface EtcdTls {
  ca: Buffer;
  cert: Buffer;
  key: Buffer;
}

/** An error etcd (or the transport) returned, with the gRPC status code. */
export class EtcdError extends Error {
  readonly code: number;
  constructor(code: number, message: string) {
    super(message);
    this.code = code;
  }
  get permissionDenied(): boolean {
    return this.code === grpc.status.PERMISSION_DENIED || /permission denied/.test(this.message);
  }
}

/** One comparison of a transaction on a single key. */
export type Compare =
  | { key: string; target: "create" | "mod"; equals: bigint }
  | { key: string; target: "lease"; equals: bigint }
  | { key: string; target: "value"; equals: string };
/** One operation of a transaction. */
export type Op =
  | { put: string; value: string; lease?: bigint }
  | { range: string }
  | { delete: string }
  | { deletePrefix: string };

/** The first key after every key that starts with `prefix`: the range end of a prefix. */
const prefixEnd = (prefix: string) => {
  const end = Buffer.from(prefix);
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  return end;
};

const TARGET = { create: "CREATE", mod: "MOD", value: "VALUE", lease: "LEASE" } as const;
const TARGET_FIELD = {
  create: "createRevision",
  mod: "modRevision",
  value: "value",
  lease: "lease",
} as const;

const opMessage = (op: Op): Message =>
  "put" in op
    ? {
        requestPut: { key: Buffer.from(op.put), value: Buffer.from(op.value), lease: String(op.lease ?? 0n) },
      }
    : "range" in op
      ? { requestRange: { key: Buffer.from(op.range) } }
      : "delete" in op
        ? { requestDeleteRange: { key: Buffer.from(op.delete) } }
        : { requestDeleteRange: { key: Buffer.from(op.deletePrefix), rangeEnd: prefixEnd(op.deletePrefix) } };
const compareMessage = (c: Compare): Message => ({
  result: "EQUAL",
  target: TARGET[c.target],
  key: Buffer.from(c.key),
  [TARGET_FIELD[c.target]]: typeof c.equals === "string" ? Buffer.from(c.equals) : String(c.equals),
});

/** The etcd RPCs kubeha calls, with their request and response types. */
const RPC = {
  range: { path: "/etcdserverpb.KV/Range", request: codec("RangeRequest"), response: codec("RangeResponse") },
  put: { path: "/etcdserverpb.KV/Put", request: codec("PutRequest"), response: codec("PutResponse") },
  txn: { path: "/etcdserverpb.KV/Txn", request: codec("TxnRequest"), response: codec("TxnResponse") },
  status: {
    path: "/etcdserverpb.Maintenance/Status",
    request: codec("StatusRequest"),
    response: codec("StatusResponse"),
  },
  memberList: {
    path: "/etcdserverpb.Cluster/MemberList",
    request: codec("MemberListRequest"),
    response: codec("MemberListResponse"),
  },
  alarm: {
    path: "/etcdserverpb.Maintenance/Alarm",
    request: codec("AlarmRequest"),
    response: codec("AlarmResponse"),
  },
  hashKv: {
    path: "/etcdserverpb.Maintenance/HashKV",
    request: codec("HashKVRequest"),
    response: codec("HashKVResponse"),
  },
  leaseGrant: {
    path: "/etcdserverpb.Lease/LeaseGrant",
    request: codec("LeaseGrantRequest"),
    response: codec("LeaseGrantResponse"),
  },
  leaseRevoke: {
    path: "/etcdserverpb.Lease/LeaseRevoke",
    request: codec("LeaseRevokeRequest"),
    response: codec("LeaseRevokeResponse"),
  },
} as const;
const KEEP_ALIVE = {
  path: "/etcdserverpb.Lease/LeaseKeepAlive",
  request: codec("LeaseKeepAliveRequest"),
  response: codec("LeaseKeepAliveResponse"),
};

export class EtcdClient {
  private readonly clients: grpc.Client[];
  /** The client URLs, in the order calls name them by index. */
  readonly endpoints: readonly string[];
  /** How many endpoints there are. */
  readonly size: number;
  private current = 0;
  private closed = false;
  /** Cancels each open keep-alive stream. */
  private readonly streams = new Set<() => void>();
  readonly timeoutMs: number;

  constructor(endpoints: readonly string[], tls: EtcdTls, timeoutMs = 1000) {
    if (endpoints.length === 0) throw new Error("etcd: no endpoints");
    const creds = grpc.credentials.createSsl(tls.ca, tls.key, tls.cert);
    this.clients = endpoints.map(
      (e) =>
        new grpc.Client(new URL(e).host, creds, {
          "grpc.initial_reconnect_backoff_ms": 100,
          "grpc.max_reconnect_backoff_ms": 1000,
          // no gRPC keep-alive pings: etcd answers pings more often than every 5 s with GOAWAY;
          // deadlines on every call (and the VIP fence) notice a dead member instead
        }),
    );
    this.timeoutMs = timeoutMs;
    this.size = endpoints.length;
    this.endpoints = [...endpoints];
  }

  /** Ends everything: open keep-alive streams too (a closed gRPC channel lets running calls go on). */
  close(): void {
    this.closed = true;
    for (const cancel of this.streams) cancel();
    for (const c of this.clients) c.close();
  }

  /**
   * A unary call on the current endpoint (or endpoint `at`); on a transport
   * failure of the current one the next call goes to the next endpoint.
   */
  private unary(
    rpc: (typeof RPC)[keyof typeof RPC],
    request: Message,
    timeoutMs = this.timeoutMs,
    at?: number,
  ): Promise<Message> {
    const index = at ?? this.current;
    const client = this.clients[index] as grpc.Client;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        rpc.path,
        rpc.request.encode,
        rpc.response.decode,
        request,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          if (err || !res) {
            const code = err?.code ?? grpc.status.UNKNOWN;
            if (
              index === this.current &&
              (code === grpc.status.UNAVAILABLE || code === grpc.status.DEADLINE_EXCEEDED)
            )
              this.current = (index + 1) % this.clients.length;
            return reject(new EtcdError(code, err?.details || err?.message || "etcd: empty response"));
          }
          resolve(res);
        },
      );
    });
  }

  /** A key (linearizable read unless `serializable`), or undefined when absent. */
  async get(
    key: string,
    opts: { serializable?: boolean; timeoutMs?: number; endpoint?: number } = {},
  ): Promise<KeyValue | undefined> {
    const res = await this.unary(
      RPC.range,
      { key: Buffer.from(key), serializable: opts.serializable ?? false },
      opts.timeoutMs,
      opts.endpoint,
    );
    const kv = res.kvs[0];
    return kv && keyValue(kv);
  }

  /** Every key under `prefix` (a linearizable read unless `serializable`), in key order. */
  async list(prefix: string, opts: { serializable?: boolean; endpoint?: number } = {}): Promise<KeyValue[]> {
    const res = await this.unary(
      RPC.range,
      { key: Buffer.from(prefix), rangeEnd: prefixEnd(prefix), serializable: opts.serializable ?? false },
      this.timeoutMs,
      opts.endpoint,
    );
    return res.kvs.map(keyValue);
  }

  async put(key: string, value: string, lease?: bigint): Promise<void> {
    await this.unary(RPC.put, {
      key: Buffer.from(key),
      value: Buffer.from(value),
      lease: String(lease ?? 0n),
    });
  }

  /** A transaction: when every compare holds, `success` runs, else `failure`; the first range result is returned. */
  async txn(
    compares: readonly Compare[],
    success: readonly Op[],
    failure: readonly Op[] = [],
  ): Promise<{ succeeded: boolean; kv?: KeyValue }> {
    const res = await this.unary(RPC.txn, {
      compare: compares.map(compareMessage),
      success: success.map(opMessage),
      failure: failure.map(opMessage),
    });
    const kv = (res.responses as Message[]).find((r) => r.responseRange)?.responseRange.kvs[0];
    return { succeeded: res.succeeded, ...(kv && { kv: keyValue(kv) }) };
  }

  /** Whether the member at `endpoint` is the raft leader (Maintenance.Status). */
  async isLeader(endpoint: number, timeoutMs = this.timeoutMs): Promise<boolean> {
    const res = await this.unary(RPC.status, {}, timeoutMs, endpoint);
    return res.leader !== "0" && res.header?.memberId === res.leader;
  }

  /** The member at `endpoint` about itself (Maintenance.Status); ids as decimal strings. */
  async status(endpoint: number): Promise<EndpointStatus> {
    const res = await this.unary(RPC.status, {}, this.timeoutMs, endpoint);
    return {
      endpoint: this.endpoints[endpoint] ?? "",
      clusterId: String(res.header?.clusterId ?? "0"),
      memberId: String(res.header?.memberId ?? "0"),
      leader: String(res.leader),
      revision: Number(res.header?.revision ?? 0),
      raftTerm: Number(res.raftTerm),
      raftIndex: Number(res.raftIndex),
      raftAppliedIndex: Number(res.raftAppliedIndex),
      dbSize: Number(res.dbSize),
      dbSizeInUse: Number(res.dbSizeInUse),
      isLearner: Boolean(res.isLearner),
      version: String(res.version),
      errors: res.errors ?? [],
    };
  }

  /** The members as the member at `endpoint` lists them. */
  async memberList(endpoint: number): Promise<{ id: string; name: string; isLearner: boolean }[]> {
    const res = await this.unary(RPC.memberList, {}, this.timeoutMs, endpoint);
    return (res.members as Message[]).map((m) => ({
      id: String(m.ID),
      name: String(m.name),
      isLearner: Boolean(m.isLearner),
    }));
  }

  /** The alarms raised in the cluster, as "NOSPACE on member ID". */
  async alarms(endpoint: number): Promise<string[]> {
    const res = await this.unary(RPC.alarm, { action: 0 }, this.timeoutMs, endpoint);
    return (res.alarms as Message[]).map((a) => `${a.alarm} on member ${a.memberID}`);
  }

  /** The hash of the member's key space up to `revision` (Maintenance.HashKV). */
  async hashKv(endpoint: number, revision: number): Promise<number> {
    const res = await this.unary(
      RPC.hashKv,
      { revision: String(revision) },
      Math.max(this.timeoutMs, 5000),
      endpoint,
    );
    return Number(res.hash);
  }

  /** Grants a lease of `ttlSeconds`; returns its id and the TTL etcd granted. */
  async leaseGrant(ttlSeconds: number): Promise<{ id: bigint; ttl: number }> {
    const res = await this.unary(RPC.leaseGrant, { TTL: String(ttlSeconds) });
    if (res.error) throw new EtcdError(grpc.status.UNKNOWN, res.error);
    return { id: BigInt(res.ID), ttl: Number(res.TTL) };
  }

  async leaseRevoke(id: bigint): Promise<void> {
    await this.unary(RPC.leaseRevoke, { ID: String(id) });
  }

  /**
   * A keep-alive stream for lease `id`. Each `send()` asks for a renewal;
   * `onAck` gets the TTL etcd granted (0: the lease is gone) and the time the
   * acknowledged request was sent, the instant the new expiry is measured
   * from at the latest. `onEnd` is called once when the stream fails or ends.
   */
  keepAlive(
    id: bigint,
    onAck: (ttl: number, sentAt: number) => void,
    onEnd: (err: Error) => void,
  ): { send(): void; close(): void } {
    if (this.closed) {
      setImmediate(() => onEnd(new Error("the etcd client is closed")));
      return { send: () => {}, close: () => {} };
    }
    const index = this.current;
    const client = this.clients[index] as grpc.Client;
    const stream = client.makeBidiStreamRequest(
      KEEP_ALIVE.path,
      KEEP_ALIVE.request.encode,
      KEEP_ALIVE.response.decode,
      new grpc.Metadata(),
    );
    const sent: number[] = [];
    let ended = false;
    const end = (err: Error) => {
      if (ended) return;
      ended = true;
      this.streams.delete(cancel);
      this.current = (index + 1) % this.clients.length;
      onEnd(err);
    };
    const cancel = () => stream.cancel();
    this.streams.add(cancel);
    stream.on("data", (res: Message) => {
      const sentAt = sent.shift();
      if (sentAt !== undefined) onAck(Number(res.TTL), sentAt);
    });
    stream.on("error", (err: grpc.ServiceError) => end(new EtcdError(err.code, err.details || err.message)));
    stream.on("end", () => end(new Error("etcd closed the keep-alive stream")));
    return {
      send: () => {
        if (ended) return;
        sent.push(performance.now());
        stream.write({ ID: String(id) });
      },
      close: () => {
        ended = true;
        this.streams.delete(cancel);
        stream.cancel();
      },
    };
  }
}

/** Reads the TLS files of an etcd client. */
export const readEtcdTls = (f: { caFile: string; certFile: string; keyFile: string }): EtcdTls => ({
  ca: readFileSync(f.caFile),
  cert: readFileSync(f.certFile),
  key: readFileSync(f.keyFile),
});
