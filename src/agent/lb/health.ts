/**
 * Active health checks with hysteresis: `fall` consecutive failures take a
 * backend out, `rise` consecutive successes (rise > fall) bring it back, so a
 * flapping backend stays out. HTTPS checks verify the backend's certificate
 * against the cluster CA: a wrong server is as bad as a dead one.
 */
import { readFileSync } from "node:fs";
import { type Agent, request } from "node:https";
import { connect } from "node:net";
import type { HealthCheckConfig } from "../config.js";
import type { Backend } from "./backend.js";

/**
 * The outcome of one check: healthy; `unready`, the backend answered but
 * not 200 (alive, e.g. an apiserver in its shutdown delay, draining); or
 * `failed`, no answer within the timeout, refused, or a wrong certificate.
 */
export type CheckResult = "ok" | "unready" | "failed";

/**
 * One check of one backend. HTTPS checks go over `agent`, one kept-alive
 * connection per backend (a new TLS handshake every check would cost the
 * apiservers more than the checks themselves); a check that times out or
 * fails destroys its connection, so the next one connects anew.
 */
export function checkOnce(
  backend: Backend,
  check: HealthCheckConfig,
  tls: { ca?: Buffer; cert?: Buffer; key?: Buffer },
  agent?: Agent,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (result: CheckResult) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    const timer = setTimeout(() => {
      req?.destroy();
      sock?.destroy();
      done("failed");
    }, check.timeoutMs);
    let req: ReturnType<typeof request> | undefined;
    let sock: ReturnType<typeof connect> | undefined;
    if (check.kind === "tcp") {
      sock = connect({ host: backend.host, port: backend.port }, () => {
        sock?.destroy();
        done("ok");
      });
      sock.once("error", () => done("failed"));
      return;
    }
    req = request(
      {
        host: backend.host,
        port: backend.port,
        path: check.path,
        method: "GET",
        agent: agent ?? false,
        ...tls,
      },
      (res) => {
        res.resume();
        done(res.statusCode === 200 ? "ok" : "unready");
      },
    );
    req.once("error", () => {
      req?.destroy();
      done("failed");
    });
    req.end();
  });
}

/** Reads the TLS material a check needs, once. */
export function checkTls(check: HealthCheckConfig): { ca?: Buffer; cert?: Buffer; key?: Buffer } {
  return {
    ...(check.caFile && { ca: readFileSync(check.caFile) }),
    ...(check.certFile && { cert: readFileSync(check.certFile) }),
    ...(check.keyFile && { key: readFileSync(check.keyFile) }),
  };
}

/** Applies one result to a backend; returns the new state when it changed. */
export function record(backend: Backend, ok: boolean, check: HealthCheckConfig): "up" | "down" | undefined {
  backend.checked = true;
  if (ok) {
    backend.successes++;
    backend.failures = 0;
    if (backend.state === "down" && backend.successes >= check.rise) {
      backend.state = "up";
      return "up";
    }
  } else {
    backend.failures++;
    backend.successes = 0;
    if (backend.state === "up" && backend.failures >= check.fall) {
      backend.state = "down";
      return "down";
    }
  }
  return undefined;
}
