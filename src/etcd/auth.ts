/**
 * etcd authentication with users named by client-certificate CNs (etcd
 * maps the CN of a verified client certificate to a user when auth is on):
 *
 * - `kube-apiserver-etcd-client` keeps full access (role root), as the apiserver needs;
 * - `kube-etcd-healthcheck-client`, the certificate kubeha's own etcdctl uses on the
 *   members, keeps root too: membership changes and auth itself need it;
 * - `kubeha-agent` gets role `kubeha-agent`: read and write under `/kubeha/` only;
 * - `root` must exist for etcd to turn auth on; no certificate names it.
 *
 * Users have no password (`--no-password`): only a certificate signed by the
 * etcd CA gets in. Reading the state and the steps to reach the wanted one are
 * separate, so `up` can show them in a dry run.
 */
import type { ExecResult } from "../transport/transport.js";
import { KUBEHA_PREFIX } from "./keyspace.js";

export const AGENT_USER = "kubeha-agent";
export const AGENT_ROLE = "kubeha-agent";
export const AGENT_PREFIX = KUBEHA_PREFIX;

/** Users and their roles, as `up` wants them. */
export const ETCD_USERS: ReadonlyMap<string, string> = new Map([
  ["root", "root"],
  ["kube-apiserver-etcd-client", "root"],
  ["kube-etcd-healthcheck-client", "root"],
  [AGENT_USER, AGENT_ROLE],
]);

/** Runs `etcdctl ARGS` against the cluster with a root-role certificate. */
export type Etcdctl = (args: string) => Promise<ExecResult>;

export interface AuthState {
  readonly enabled: boolean;
  /** User name to its roles. */
  readonly users: ReadonlyMap<string, readonly string[]>;
  /** Whether role kubeha-agent exists, and its permissions as etcdctl prints them. */
  readonly agentRole?: string;
}

/** The state of a cluster that has never had auth configured. */
export const NO_AUTH: AuthState = { enabled: false, users: new Map() };

async function ok(etcdctl: Etcdctl, args: string): Promise<string> {
  const r = await etcdctl(args);
  if (r.code !== 0) throw new Error(`etcdctl ${args}: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

/**
 * Reads users, the agent role and whether auth is on. etcd 3.4 has no
 * `auth status`; logging in with a password as a user that does not exist
 * tells: etcd answers "authentication is not enabled" only when it is off.
 */
export async function readAuthState(etcdctl: Etcdctl): Promise<AuthState> {
  // independent reads at once (one SSH connection carries them all): two round trips, not six
  const [probe, list, role] = await Promise.all([
    etcdctl("--user=kubeha-auth-probe:none get /kubeha/auth-probe"),
    ok(etcdctl, "user list"),
    etcdctl(`role get ${AGENT_ROLE}`),
  ]);
  const enabled = !/authentication is not enabled/.test(probe.stderr + probe.stdout);
  const names = list
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  const roles = await Promise.all(names.map((name) => ok(etcdctl, `user get ${name}`)));
  const users = new Map(
    names.map((name, i) => [
      name,
      (roles[i]?.match(/^Roles:(.*)$/m)?.[1] ?? "").trim().split(/\s+/).filter(Boolean),
    ]),
  );
  return { enabled, users, ...(role.code === 0 && { agentRole: role.stdout }) };
}

/** The etcdctl commands that take `state` to the wanted one, each with what it does. */
export function authSteps(state: AuthState): { what: string; args: string }[] {
  const steps: { what: string; args: string }[] = [];
  const granted = (role: string | undefined, prefix: string) =>
    role !== undefined &&
    new RegExp(`KV Read:[^]*\\(prefix ${prefix}\\)[^]*KV Write:[^]*\\(prefix ${prefix}\\)`).test(role);
  if (state.agentRole === undefined)
    steps.push({ what: `add etcd role ${AGENT_ROLE}`, args: `role add ${AGENT_ROLE}` });
  if (!granted(state.agentRole, AGENT_PREFIX))
    steps.push({
      what: `let etcd role ${AGENT_ROLE} read and write ${AGENT_PREFIX} only`,
      args: `role grant-permission ${AGENT_ROLE} readwrite ${AGENT_PREFIX} --prefix=true`,
    });
  for (const [user, role] of ETCD_USERS) {
    const roles = state.users.get(user);
    if (!roles)
      steps.push({
        what: `add etcd user ${user} (certificate only)`,
        args: `user add ${user} --no-password`,
      });
    if (!roles?.includes(role))
      steps.push({ what: `grant etcd role ${role} to ${user}`, args: `user grant-role ${user} ${role}` });
  }
  if (!state.enabled) steps.push({ what: "enable etcd authentication", args: "auth enable" });
  return steps;
}

/** Brings the cluster to the wanted auth state; returns what it did. */
export async function ensureAuth(etcdctl: Etcdctl): Promise<string[]> {
  const steps = authSteps(await readAuthState(etcdctl));
  for (const s of steps) await ok(etcdctl, s.args);
  return steps.map((s) => s.what);
}
