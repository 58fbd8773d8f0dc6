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

/** The command line of `etcdctl args` on a member host against `endpoints` (default: its own member). */
export function etcdctlCommand(args: string, endpoints = LOCAL_CLIENT_URL): string {
  const client = HostPki.etcdHealthcheckClient;
  const tls = `--cacert=${pkiPath(HostPki.etcdCa.cert)} --cert=${pkiPath(client.cert)} --key=${pkiPath(client.key)}`;
  return `ETCDCTL_API=3 etcdctl --endpoints=${shq(endpoints)} ${tls} --dial-timeout=2s --command-timeout=5s ${args}`;
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
