/**
 * The one CRI call the kubelet stand-in makes, as the real kubelet does at
 * start ("validate CRI v1 runtime API for endpoint"): RuntimeService.Version
 * over containerd's socket, with the field numbers of
 * k8s.io/cri-api/pkg/apis/runtime/v1/api.proto. A runtime that does not
 * answer stops the kubelet, as it would stop the real one.
 */
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs/light.js";

const root = protobuf.Root.fromJSON({
  nested: {
    runtime: {
      nested: {
        VersionRequest: { fields: { version: { type: "string", id: 1 } } },
        VersionResponse: {
          fields: {
            version: { type: "string", id: 1 },
            runtimeName: { type: "string", id: 2 },
            runtimeVersion: { type: "string", id: 3 },
            runtimeApiVersion: { type: "string", id: 4 },
          },
        },
      },
    },
  },
});
const request = root.lookupType("runtime.VersionRequest");
const response = root.lookupType("runtime.VersionResponse");

/** The messages of RuntimeService.Version (a test's runtime answers with them). */
export const CRI_VERSION = { path: "/runtime.v1.RuntimeService/Version", request, response } as const;

/** What the runtime says it is. */
export interface RuntimeVersion {
  readonly runtimeName: string;
  readonly runtimeVersion: string;
  readonly runtimeApiVersion: string;
}

/** RuntimeService.Version at `endpoint` (unix:///run/containerd/containerd.sock), within `timeoutMs`. */
export function criVersion(endpoint: string, timeoutMs = 2000): Promise<RuntimeVersion> {
  const client = new grpc.Client(endpoint, grpc.credentials.createInsecure());
  return new Promise<RuntimeVersion>((resolve, reject) => {
    client.makeUnaryRequest(
      CRI_VERSION.path,
      (m: Record<string, unknown>) => Buffer.from(request.encode(request.fromObject(m)).finish()),
      (b: Buffer) => response.toObject(response.decode(b), { defaults: true }) as RuntimeVersion,
      { version: "v1" },
      new grpc.Metadata(),
      { deadline: Date.now() + timeoutMs },
      (err, res) => (err || !res ? reject(err ?? new Error("empty response")) : resolve(res)),
    );
  }).finally(() => client.close());
}
