/**
 * Nodes in the apiserver STAND-IN: what a kubelet registers and how the
 * apiserver reaches it back. Nodes are kept in etcd (/registry/minions/NAME,
 * JSON rather than the real protobuf) so every apiserver sees every node,
 * whichever one a kubelet's proxy sent it to. Writes follow NodeRestriction:
 * only system:node:NAME (group system:nodes) or system:masters may write Node
 * NAME. The proxy subresource reaches the kubelet as the real apiserver
 * does: its InternalIP and kubelet port from the Node's status, the
 * apiserver's kubelet client certificate, the kubelet's serving certificate
 * verified against --kubelet-certificate-authority and for that address
 * (without the flag the real apiserver does not verify it, nor does this one).
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { request } from "node:https";
import type { EtcdClient } from "../etcd/client.js";

const PREFIX = "/registry/minions/";

/** The discovery document of the core group: what kubectl needs to find nodes. */
export const V1_RESOURCES = {
  kind: "APIResourceList",
  groupVersion: "v1",
  resources: [
    {
      name: "nodes",
      singularName: "node",
      namespaced: false,
      kind: "Node",
      verbs: ["create", "get", "list", "update"],
      shortNames: ["no"],
    },
    { name: "nodes/proxy", singularName: "", namespaced: false, kind: "NodeProxyOptions", verbs: ["get"] },
    { name: "nodes/status", singularName: "", namespaced: false, kind: "Node", verbs: ["get", "update"] },
  ],
};

interface NodeObject {
  kind?: string;
  metadata?: { name?: string; creationTimestamp?: string; [k: string]: unknown };
  status?: {
    addresses?: { type: string; address: string }[];
    daemonEndpoints?: { kubeletEndpoint?: { Port?: number } };
  };
  [k: string]: unknown;
}

/** A Kubernetes Status body, as the API answers errors. */
export const status = (code: number, reason: string, message: string) =>
  JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    metadata: {},
    status: "Failure",
    message,
    reason,
    code,
  });

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    req.setEncoding("utf8");
    req.on("data", (d: string) => {
      text += d;
      if (text.length > 1 << 20) req.destroy(new Error("request body too large"));
    });
    req.on("end", () => resolve(text));
    req.on("error", reject);
  });
}

/** The apiserver's side of kubelets: registration, listing, and the proxy back to them. */
export class NodeRegistry {
  constructor(
    private readonly etcd: EtcdClient,
    private readonly kubeletClient: { cert?: string; key?: string; ca?: string },
  ) {}

  async handle(
    req: IncomingMessage,
    res: ServerResponse,
    who: { user: string; groups: readonly string[]; name?: string; sub?: string; rest: string },
  ): Promise<unknown> {
    const json = (code: number, body: string) =>
      res.writeHead(code, { "content-type": "application/json" }).end(body);
    const admin = who.groups.includes("system:masters");
    const { name, sub } = who;
    try {
      if (req.method === "GET" && !name) {
        const items = (await this.etcd.list(PREFIX)).map((kv) => JSON.parse(kv.value) as NodeObject);
        return json(200, JSON.stringify({ kind: "NodeList", apiVersion: "v1", metadata: {}, items }));
      }
      if (!name) return json(405, status(405, "MethodNotAllowed", "the server does not allow this method"));
      if (sub === "proxy") {
        if (!admin)
          return json(
            403,
            status(
              403,
              "Forbidden",
              `nodes "${name}" is forbidden: User "${who.user}" cannot get resource "nodes/proxy"`,
            ),
          );
        return this.proxy(name, who.rest, res);
      }
      if (req.method === "GET") {
        const kv = await this.etcd.get(`${PREFIX}${name}`);
        return kv ? json(200, kv.value) : json(404, status(404, "NotFound", `nodes "${name}" not found`));
      }
      if (req.method === "PUT" || req.method === "POST") {
        const self = who.user === `system:node:${name}` && who.groups.includes("system:nodes");
        if (!self && !admin) {
          const node = who.user.startsWith("system:node:") ? who.user.slice("system:node:".length) : who.user;
          return json(
            403,
            status(
              403,
              "Forbidden",
              `nodes "${name}" is forbidden: node "${node}" is not allowed to modify node "${name}"`,
            ),
          );
        }
        const node = JSON.parse(await readBody(req)) as NodeObject;
        if (node.kind !== "Node" || node.metadata?.name !== name)
          return json(400, status(400, "BadRequest", `the body is not Node "${name}"`));
        const old = await this.etcd.get(`${PREFIX}${name}`);
        const created = old ? (JSON.parse(old.value) as NodeObject).metadata?.creationTimestamp : undefined;
        node.metadata = { ...node.metadata, creationTimestamp: created ?? new Date().toISOString() };
        await this.etcd.put(`${PREFIX}${name}`, JSON.stringify(node));
        return json(old ? 200 : 201, JSON.stringify(node));
      }
      return json(405, status(405, "MethodNotAllowed", "the server does not allow this method"));
    } catch (err) {
      return json(500, status(500, "InternalError", `kubeha apiserver stand-in: ${(err as Error).message}`));
    }
  }

  /** GET `path` on the kubelet of node `name`, over mutual TLS. */
  private async proxy(name: string, path: string, res: ServerResponse) {
    const kv = await this.etcd.get(`${PREFIX}${name}`);
    if (!kv) {
      res
        .writeHead(404, { "content-type": "application/json" })
        .end(status(404, "NotFound", `nodes "${name}" not found`));
      return;
    }
    const node = JSON.parse(kv.value) as NodeObject;
    const ip = node.status?.addresses?.find((a) => a.type === "InternalIP")?.address;
    const port = node.status?.daemonEndpoints?.kubeletEndpoint?.Port ?? 10250;
    const host = ip?.includes(":") ? `[${ip}]` : ip;
    const { cert, key, ca } = this.kubeletClient;
    await new Promise<void>((resolve) => {
      const upstream = request(
        `https://${host}:${port}${path}`,
        {
          cert,
          key,
          ...(ca ? { ca } : { rejectUnauthorized: false }),
          timeout: 3000,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, { "content-type": up.headers["content-type"] ?? "text/plain" });
          up.pipe(res);
          up.on("end", resolve);
        },
      );
      upstream.on("timeout", () => upstream.destroy(new Error("timeout")));
      upstream.on("error", (err) => {
        res
          .writeHead(502, { "content-type": "application/json" })
          .end(status(502, "ServiceUnavailable", `error trying to reach service: ${err.message}`));
        resolve();
      });
      upstream.end();
    });
  }
}
