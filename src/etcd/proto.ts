/**
 * The few etcd v3 protobuf messages kubeha uses (the agent, the stand-in,
 * `status` and `drill`), as a
 * JSON descriptor for protobufjs (already in the host executable through
 * grpc-js): named fields, no .proto files, no code generator. Field numbers
 * are etcd's (api/etcdserverpb/rpc.proto, api/mvccpb/kv.proto); only the
 * fields kubeha reads or writes are listed, and protobuf skips the others.
 * etcd's gRPC gateway cannot be used instead: it ignores the client
 * certificate's CN, and CN-mapped users are how etcd auth knows the agent.
 */
import protobuf from "protobufjs/light.js";

const f = (type: string, id: number, rule?: "repeated") => ({ type, id, ...(rule && { rule }) });

const descriptor = {
  nested: {
    etcd: {
      nested: {
        ResponseHeader: {
          fields: {
            clusterId: f("uint64", 1),
            memberId: f("uint64", 2),
            revision: f("int64", 3),
            raftTerm: f("uint64", 4),
          },
        },
        KeyValue: {
          fields: {
            key: f("bytes", 1),
            createRevision: f("int64", 2),
            modRevision: f("int64", 3),
            version: f("int64", 4),
            value: f("bytes", 5),
            lease: f("int64", 6),
          },
        },
        RangeRequest: { fields: { key: f("bytes", 1), rangeEnd: f("bytes", 2), serializable: f("bool", 7) } },
        RangeResponse: {
          fields: { header: f("ResponseHeader", 1), kvs: f("KeyValue", 2, "repeated"), count: f("int64", 4) },
        },
        PutRequest: { fields: { key: f("bytes", 1), value: f("bytes", 2), lease: f("int64", 3) } },
        PutResponse: { fields: { header: f("ResponseHeader", 1) } },
        DeleteRangeRequest: { fields: { key: f("bytes", 1), rangeEnd: f("bytes", 2) } },
        DeleteRangeResponse: { fields: { header: f("ResponseHeader", 1), deleted: f("int64", 2) } },
        RequestOp: {
          oneofs: { request: { oneof: ["requestRange", "requestPut", "requestDeleteRange"] } },
          fields: {
            requestRange: f("RangeRequest", 1),
            requestPut: f("PutRequest", 2),
            requestDeleteRange: f("DeleteRangeRequest", 3),
          },
        },
        ResponseOp: {
          oneofs: { response: { oneof: ["responseRange", "responsePut", "responseDeleteRange"] } },
          fields: {
            responseRange: f("RangeResponse", 1),
            responsePut: f("PutResponse", 2),
            responseDeleteRange: f("DeleteRangeResponse", 3),
          },
        },
        Compare: {
          oneofs: { targetUnion: { oneof: ["version", "createRevision", "modRevision", "value", "lease"] } },
          fields: {
            result: f("CompareResult", 1),
            target: f("CompareTarget", 2),
            key: f("bytes", 3),
            version: f("int64", 4),
            createRevision: f("int64", 5),
            modRevision: f("int64", 6),
            value: f("bytes", 7),
            lease: f("int64", 8),
          },
        },
        CompareResult: { values: { EQUAL: 0, GREATER: 1, LESS: 2, NOT_EQUAL: 3 } },
        CompareTarget: { values: { VERSION: 0, CREATE: 1, MOD: 2, VALUE: 3, LEASE: 4 } },
        TxnRequest: {
          fields: {
            compare: f("Compare", 1, "repeated"),
            success: f("RequestOp", 2, "repeated"),
            failure: f("RequestOp", 3, "repeated"),
          },
        },
        TxnResponse: {
          fields: {
            header: f("ResponseHeader", 1),
            succeeded: f("bool", 2),
            responses: f("ResponseOp", 3, "repeated"),
          },
        },
        StatusRequest: { fields: {} },
        StatusResponse: {
          fields: {
            header: f("ResponseHeader", 1),
            version: f("string", 2),
            dbSize: f("int64", 3),
            leader: f("uint64", 4),
            raftIndex: f("uint64", 5),
            raftTerm: f("uint64", 6),
            raftAppliedIndex: f("uint64", 7),
            errors: f("string", 8, "repeated"),
            dbSizeInUse: f("int64", 9),
            isLearner: f("bool", 10),
          },
        },
        MemberListRequest: { fields: {} },
        Member: {
          fields: {
            ID: f("uint64", 1),
            name: f("string", 2),
            peerURLs: f("string", 3, "repeated"),
            clientURLs: f("string", 4, "repeated"),
            isLearner: f("bool", 5),
          },
        },
        MemberListResponse: {
          fields: { header: f("ResponseHeader", 1), members: f("Member", 2, "repeated") },
        },
        AlarmType: { values: { NONE: 0, NOSPACE: 1, CORRUPT: 2 } },
        AlarmRequest: {
          fields: { action: f("int32", 1), memberID: f("uint64", 2), alarm: f("AlarmType", 3) },
        },
        AlarmMember: { fields: { memberID: f("uint64", 1), alarm: f("AlarmType", 2) } },
        AlarmResponse: {
          fields: { header: f("ResponseHeader", 1), alarms: f("AlarmMember", 2, "repeated") },
        },
        HashKVRequest: { fields: { revision: f("int64", 1) } },
        HashKVResponse: {
          fields: { header: f("ResponseHeader", 1), hash: f("uint32", 2), compactRevision: f("int64", 3) },
        },
        LeaseGrantRequest: { fields: { TTL: f("int64", 1), ID: f("int64", 2) } },
        LeaseGrantResponse: {
          fields: {
            header: f("ResponseHeader", 1),
            ID: f("int64", 2),
            TTL: f("int64", 3),
            error: f("string", 4),
          },
        },
        LeaseRevokeRequest: { fields: { ID: f("int64", 1) } },
        LeaseRevokeResponse: { fields: { header: f("ResponseHeader", 1) } },
        LeaseKeepAliveRequest: { fields: { ID: f("int64", 1) } },
        LeaseKeepAliveResponse: {
          fields: { header: f("ResponseHeader", 1), ID: f("int64", 2), TTL: f("int64", 3) },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);

/** A message as plain data: 64-bit integers as decimal strings, bytes as Buffers, absent fields at their defaults. */
// biome-ignore lint/suspicious/noExplicitAny: the shape is the descriptor's
export type Message = Record<string, any>;

/** The (de)serialisers of message type `name` for grpc-js. */
export function codec(name: keyof typeof descriptor.nested.etcd.nested): {
  encode(message: Message): Buffer;
  decode(bytes: Buffer): Message;
} {
  const type = root.lookupType(`etcd.${name}`);
  return {
    encode: (message) => Buffer.from(type.encode(type.fromObject(message)).finish()),
    decode: (bytes) => type.toObject(type.decode(bytes), { longs: String, defaults: true, enums: String }),
  };
}

/** mvccpb.KeyValue, with its revisions and lease as bigints and its key and value as text. */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: bigint;
  modRevision: bigint;
  lease: bigint;
}

/** A decoded KeyValue message in kubeha's terms. */
export function keyValue(kv: Message): KeyValue {
  return {
    key: Buffer.from(kv.key).toString(),
    value: Buffer.from(kv.value).toString(),
    createRevision: BigInt(kv.createRevision),
    modRevision: BigInt(kv.modRevision),
    lease: BigInt(kv.lease),
  };
}
