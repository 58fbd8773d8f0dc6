/**
 * The few etcd v3 protobuf messages the agent and the stand-in use, encoded
 * and decoded by hand (field numbers from etcd's api/etcdserverpb/rpc.proto
 * and api/mvccpb/kv.proto). Hand-written so the host executable bundles no
 * .proto files and no code generator: a message is a list of (field, value).
 * etcd's gRPC gateway cannot be used instead: it ignores the client
 * certificate's CN, and CN-mapped users are how etcd auth knows the agent.
 */

/** A field to encode: varint (number, bigint, boolean), bytes (Buffer, string) or a nested message. */
type Value = number | bigint | boolean | string | Buffer | Field[];
export type Field = [field: number, value: Value | undefined];

function varint(n: bigint): number[] {
  let v = BigInt.asUintN(64, n);
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}

/** Encodes a message; undefined fields are left out, zero values are written (oneof needs them). */
export function encode(fields: readonly Field[]): Buffer {
  const parts: Buffer[] = [];
  for (const [n, v] of fields) {
    if (v === undefined) continue;
    if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") {
      parts.push(Buffer.from([...varint(BigInt(n << 3)), ...varint(BigInt(v))]));
    } else {
      const bytes = Array.isArray(v) ? encode(v) : Buffer.from(v);
      parts.push(Buffer.from([...varint(BigInt((n << 3) | 2)), ...varint(BigInt(bytes.length))]), bytes);
    }
  }
  return Buffer.concat(parts);
}

/** A decoded message: each field number maps to its values in order (varints as bigint, the rest as bytes). */
export type Decoded = Map<number, (bigint | Buffer)[]>;

export function decode(buf: Buffer): Decoded {
  const out: Decoded = new Map();
  let i = 0;
  const readVarint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      if (b === undefined) throw new Error("truncated protobuf message");
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const tag = Number(readVarint());
    const field = tag >> 3;
    let value: bigint | Buffer;
    switch (tag & 7) {
      case 0:
        value = readVarint();
        break;
      case 2: {
        const len = Number(readVarint());
        value = buf.subarray(i, i + len);
        i += len;
        break;
      }
      case 1:
        value = buf.subarray(i, i + 8);
        i += 8;
        break;
      case 5:
        value = buf.subarray(i, i + 4);
        i += 4;
        break;
      default:
        throw new Error(`unsupported protobuf wire type ${tag & 7}`);
    }
    const list = out.get(field);
    if (list) list.push(value);
    else out.set(field, [value]);
  }
  return out;
}

/** The first varint of a field as a signed 64-bit bigint (0 when absent). */
export const int = (m: Decoded, field: number): bigint => {
  const v = m.get(field)?.[0];
  return typeof v === "bigint" ? BigInt.asIntN(64, v) : 0n;
};
/** The first bytes of a field (empty when absent). */
export const bytes = (m: Decoded, field: number): Buffer => {
  const v = m.get(field)?.[0];
  return Buffer.isBuffer(v) ? v : Buffer.alloc(0);
};
/** Every nested message of a repeated field. */
export const messages = (m: Decoded, field: number): Decoded[] =>
  (m.get(field) ?? []).filter((v): v is Buffer => Buffer.isBuffer(v)).map(decode);

/** mvccpb.KeyValue, decoded. */
export interface KeyValue {
  key: string;
  value: string;
  createRevision: bigint;
  modRevision: bigint;
  lease: bigint;
}
export function keyValue(m: Decoded): KeyValue {
  return {
    key: bytes(m, 1).toString(),
    createRevision: int(m, 2),
    modRevision: int(m, 3),
    value: bytes(m, 5).toString(),
    lease: int(m, 6),
  };
}
