/** Real HTTPS backends on loopback for load-balancer tests: readiness that can be switched, a watch-like stream. */
import { createServer, type Server } from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { issueCa, issueLeaf, signerFromPem } from "../../pki/certificate.js";

/** A CA and a serving certificate for 127.0.0.1. */
export async function loopbackTls(): Promise<{ ca: string; cert: string; key: string }> {
  const ca = await issueCa("test-ca", "ecdsa-p256", 1);
  const signer = await signerFromPem(ca.cert, ca.key);
  const leaf = await issueLeaf(
    {
      subject: { cn: "backend", o: [] },
      names: { dns: ["localhost"], ip: ["127.0.0.1"] },
      usages: ["server"],
    },
    signer,
    "ecdsa-p256",
    1,
  );
  return { ca: ca.cert, cert: leaf.cert, key: leaf.key };
}

/** A test backend. */
export interface TestBackend {
  readonly name: string;
  readonly endpoint: string;
  ready: boolean;
  /** Leaves health checks unanswered, as a hung or unreachable host would. */
  silent: boolean;
  /** Stops accepting and drops every connection, as a killed process would. */
  kill(): Promise<void>;
}

/** Starts an HTTPS backend named `name` on 127.0.0.1 (port 0). */
export async function startBackend(name: string, tls: { cert: string; key: string }): Promise<TestBackend> {
  const sockets = new Set<Socket>();
  const backend: TestBackend & { server?: Server } = {
    name,
    endpoint: "",
    ready: true,
    silent: false,
    kill: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = createServer({ cert: tls.cert, key: tls.key }, (req, res) => {
    if (req.url === "/readyz" && backend.silent) return;
    if (req.url === "/readyz")
      return res.writeHead(backend.ready ? 200 : 503).end(backend.ready ? "ok" : "not ready");
    if (req.url === "/watch") {
      res.writeHead(200, { "content-type": "text/plain" });
      res.write(`${name}\n`);
      const t = setInterval(() => res.write(`${name}\n`), 100);
      res.on("close", () => clearInterval(t));
      return;
    }
    res.writeHead(200, { "content-type": "text/plain" }).end(name);
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  (backend as { endpoint: string }).endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  return backend;
}
