/** etcdctl run on a member host, over mutual TLS with that host's healthcheck client certificate. */
import { ETCD_PKI } from "../render/etcd-unit.js";
import { type ExecResult, shq, type Transport } from "../transport/transport.js";

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

/** Runs `etcdctl args` on the host against `endpoints` (default: its own member). */
export function etcdctl(
  t: Transport,
  args: string,
  endpoints = "https://127.0.0.1:2379",
): Promise<ExecResult> {
  const tls = `--cacert=${ETCD_PKI}/ca.crt --cert=${ETCD_PKI}/healthcheck-client.crt --key=${ETCD_PKI}/healthcheck-client.key`;
  return t.exec(
    `ETCDCTL_API=3 etcdctl --endpoints=${shq(endpoints)} ${tls} --dial-timeout=2s --command-timeout=5s ${args}`,
  );
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

/** Polls until `probe` holds or `timeoutMs` passes. */
export async function waitFor(
  probe: () => Promise<boolean>,
  timeoutMs: number,
  stepMs = 500,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await probe()) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
}
