/**
 * A small etcd v3 client over gRPC with mutual TLS, for the daemons on the
 * hosts (agent, apiserver stand-in): range, put, txn, leases and lease
 * keep-alive streams. etcd maps the client certificate's CN to a user when
 * auth is on, which its JSON gateway cannot do. Endpoints are tried in
 * order; an unreachable one sends the next call to the next endpoint.
 */
import { readFileSync } from "node:fs";
import * as grpc from "@grpc/grpc-js";
import {
  bytes,
  type Decoded,
  decode,
  encode,
  type Field,
  int,
  type KeyValue,
  keyValue,
  messages,
} from "./proto.js";

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
export type Op = { put: string; value: string; lease?: bigint } | { range: string } | { delete: string };

const TARGET = { create: 1, mod: 2, value: 3, lease: 4 } as const;
const TARGET_FIELD = { create: 5, mod: 6, value: 7, lease: 8 } as const;

const rangeRequest = (key: string, serializable = false): Field[] => [
  [1, key],
  [7, serializable || undefined],
];
const putRequest = (key: string, value: string, lease?: bigint): Field[] => [
  [1, key],
  [2, value],
  [3, lease || undefined],
];
const opFields = (op: Op): Field[] =>
  "put" in op
    ? [[2, putRequest(op.put, op.value, op.lease)]]
    : "range" in op
      ? [[1, rangeRequest(op.range)]]
      : [[3, [[1, op.delete]]]];
const compareFields = (c: Compare): Field[] => [
  [1, 0], // EQUAL
  [2, TARGET[c.target]],
  [3, c.key],
  [TARGET_FIELD[c.target], c.equals],
];

const identity = (b: Buffer) => b;

export class EtcdClient {
  private readonly clients: grpc.Client[];
  /** How many endpoints there are. */
  readonly size: number;
  private current = 0;
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
  }

  close(): void {
    for (const c of this.clients) c.close();
  }

  /**
   * A unary call on the current endpoint (or endpoint `at`); on a transport
   * failure of the current one the next call goes to the next endpoint.
   */
  private unary(method: string, request: Field[], timeoutMs = this.timeoutMs, at?: number): Promise<Decoded> {
    const index = at ?? this.current;
    const client = this.clients[index] as grpc.Client;
    return new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        method,
        encode,
        identity,
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
          resolve(decode(res));
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
      "/etcdserverpb.KV/Range",
      rangeRequest(key, opts.serializable),
      opts.timeoutMs,
      opts.endpoint,
    );
    const kv = messages(res, 2)[0];
    return kv && keyValue(kv);
  }

  async put(key: string, value: string, lease?: bigint): Promise<void> {
    await this.unary("/etcdserverpb.KV/Put", putRequest(key, value, lease));
  }

  /** A transaction: when every compare holds, `success` runs, else `failure`; the first range result is returned. */
  async txn(
    compares: readonly Compare[],
    success: readonly Op[],
    failure: readonly Op[] = [],
  ): Promise<{ succeeded: boolean; kv?: KeyValue }> {
    const res = await this.unary("/etcdserverpb.KV/Txn", [
      ...compares.map((c): Field => [1, compareFields(c)]),
      ...success.map((o): Field => [2, opFields(o)]),
      ...failure.map((o): Field => [3, opFields(o)]),
    ]);
    const range = messages(res, 3)
      .map((r) => messages(r, 1)[0])
      .find(Boolean);
    const kv = range && messages(range, 2)[0];
    return { succeeded: int(res, 2) === 1n, ...(kv && { kv: keyValue(kv) }) };
  }

  /** Whether the member at `endpoint` is the raft leader (Maintenance.Status). */
  async isLeader(endpoint: number, timeoutMs = this.timeoutMs): Promise<boolean> {
    const res = await this.unary("/etcdserverpb.Maintenance/Status", [], timeoutMs, endpoint);
    const header = messages(res, 1)[0];
    return header !== undefined && int(header, 2) === int(res, 4) && int(res, 4) !== 0n;
  }

  /** Grants a lease of `ttlSeconds`; returns its id and the TTL etcd granted. */
  async leaseGrant(ttlSeconds: number): Promise<{ id: bigint; ttl: number }> {
    const res = await this.unary("/etcdserverpb.Lease/LeaseGrant", [[1, ttlSeconds]]);
    const error = bytes(res, 4).toString();
    if (error) throw new EtcdError(grpc.status.UNKNOWN, error);
    return { id: int(res, 2), ttl: Number(int(res, 3)) };
  }

  async leaseRevoke(id: bigint): Promise<void> {
    await this.unary("/etcdserverpb.Lease/LeaseRevoke", [[1, id]]);
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
    const index = this.current;
    const client = this.clients[index] as grpc.Client;
    const stream = client.makeBidiStreamRequest(
      "/etcdserverpb.Lease/LeaseKeepAlive",
      encode,
      identity,
      new grpc.Metadata(),
    );
    const sent: number[] = [];
    let ended = false;
    const end = (err: Error) => {
      if (ended) return;
      ended = true;
      this.current = (index + 1) % this.clients.length;
      onEnd(err);
    };
    stream.on("data", (buf: Buffer) => {
      const sentAt = sent.shift();
      if (sentAt !== undefined) onAck(Number(int(decode(buf), 3)), sentAt);
    });
    stream.on("error", (err: grpc.ServiceError) => end(new EtcdError(err.code, err.details || err.message)));
    stream.on("end", () => end(new Error("etcd closed the keep-alive stream")));
    return {
      send: () => {
        if (ended) return;
        sent.push(performance.now());
        stream.write([[1, id]] satisfies Field[]);
      },
      close: () => {
        ended = true;
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
