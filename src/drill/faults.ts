/**
 * The faults a drill injects, one list for the lab and real hosts: a fault
 * has a name, what it takes away (a whole host, or one service on it, for
 * the refusal check and `--each-host`), and inject and recover. Where the
 * lab and real hosts differ, a Platform says how: the lab powers a machine
 * off and cuts its port on the bridge; on real hosts a "power-off" is a
 * hard stop (SIGKILL) of every service kubeha runs there, and a partition
 * is an nftables table on the host that drops traffic to and from every
 * other host, with a systemd timer that removes it on its own should the
 * drill never come back. Component faults go through systemd everywhere:
 * SIGKILL (the unit restarts it, as it would after a crash), SIGSTOP and
 * SIGCONT, a clean stop and start.
 */
import { UsageError } from "../core/errors.js";
import { shq } from "../core/shell.js";
import type { ClusterContext, ClusterHost } from "../deploy/context.js";
import type { Lab } from "../lab/lab.js";
import { agent } from "../services/agent.js";
import { apiserver } from "../services/control-plane.js";
import { etcd } from "../services/etcd.js";
import { ingressController } from "../services/ingress.js";
import { deployedOn } from "../services/registry.js";
import type { HostService } from "../services/service.js";

export const FAULT_NAMES = ["power-off", "partition", "kill", "freeze", "stop", "etcd-leader"] as const;
export type FaultName = (typeof FAULT_NAMES)[number];

/** `--component` names and the services they mean. */
export const COMPONENTS: Readonly<Record<string, HostService>> = {
  etcd,
  "kube-apiserver": apiserver,
  agent,
  ingress: ingressController,
};

/** One fault on one host. */
export interface Fault {
  readonly name: FaultName;
  readonly target: string;
  /** The registry names of the services it takes away on the target; undefined: every one (the host). */
  readonly services?: readonly string[];
  /** For the report: "SIGKILL of kube-apiserver on cp2". */
  readonly description: string;
  inject(): Promise<void>;
  recover(): Promise<void>;
}

/** How host-wide faults reach a host. */
export interface Platform {
  readonly kind: "lab" | "hosts";
  /** The hosts run on this machine's kernel, so their clocks are this machine's. */
  readonly sameClock: boolean;
  powerOff(host: ClusterHost): Promise<void>;
  powerOn(host: ClusterHost): Promise<void>;
  partition(host: ClusterHost): Promise<void>;
  heal(host: ClusterHost): Promise<void>;
}

/** The lab: machines powered off and booted, ports cut on the bridge. */
export function labPlatform(lab: Lab): Platform {
  return {
    kind: "lab",
    sameClock: true,
    powerOff: (h) => lab.kill(h.spec.name),
    powerOn: (h) => lab.start(h.spec.name),
    partition: async (h) => lab.partition(h.spec.name),
    heal: async (h) => lab.heal(h.spec.name),
  };
}

const DRILL_TABLE = "kubeha_drill";
const DEADMAN_UNIT = "kubeha-drill-heal";

/** Runs `command` on a host, failing with what it printed. */
async function onHost(ctx: ClusterContext, host: ClusterHost, command: string): Promise<void> {
  const r = await ctx.transport(host).exec(command, { timeoutMs: 30_000 });
  if (r.code !== 0)
    throw new UsageError(
      `${host.spec.name}: \`${command.split("\n")[0]}\` failed: ${(r.stderr || r.stdout).trim()}`,
    );
}

/** Real hosts over SSH: a hard stop of kubeha's services, an nftables partition with a dead-man timer. */
export function hostsPlatform(ctx: ClusterContext, holdSeconds: number): Platform {
  const units = (h: ClusterHost) => deployedOn(ctx.cluster, h.spec).map((d) => d.unit);
  return {
    kind: "hosts",
    sameClock: false,
    // SIGKILL to every process of every unit, then stopped so that systemd does not restart them
    powerOff: (h) =>
      onHost(
        ctx,
        h,
        `systemctl kill --signal=SIGKILL ${units(h).join(" ")}; systemctl stop ${units(h).join(" ")}`,
      ),
    powerOn: (h) => onHost(ctx, h, `systemctl start ${units(h).join(" ")}`),
    async partition(h) {
      const peers = ctx.hosts.filter((o) => o !== h).map((o) => o.spec.ip ?? o.spec.address);
      const v4 = peers.filter((a) => !a.includes(":"));
      const v6 = peers.filter((a) => a.includes(":"));
      const set = (list: string[]) => `{ ${list.join(", ")} }`;
      const rules = (dir: "saddr" | "daddr") =>
        [
          // the operator's own SSH path stays: the drill must be able to heal
          `ip ${dir} $op accept`,
          ...(v4.length > 0 ? [`ip ${dir} ${set(v4)} drop`] : []),
          ...(v6.length > 0 ? [`ip6 ${dir} ${set(v6)} drop`] : []),
        ].join("; ");
      const table = `table inet ${DRILL_TABLE} { chain in { type filter hook input priority -100; policy accept; ${rules("saddr")}; }; chain out { type filter hook output priority -100; policy accept; ${rules("daddr")}; }; }`;
      await onHost(
        ctx,
        h,
        [
          `op=$(echo "$SSH_CONNECTION" | cut -d' ' -f1)`,
          `[ -n "$op" ] || { echo 'cannot tell the operator address from SSH_CONNECTION' >&2; exit 1; }`,
          `systemd-run --quiet --unit=${DEADMAN_UNIT} --on-active=${holdSeconds + 120} nft delete table inet ${DRILL_TABLE}`,
          `nft ${shq(table).replace(/\$op/g, `'"$op"'`)}`,
        ].join("\n"),
      );
    },
    heal: (h) =>
      onHost(
        ctx,
        h,
        `nft delete table inet ${DRILL_TABLE} 2>/dev/null; systemctl stop ${DEADMAN_UNIT}.timer 2>/dev/null; true`,
      ),
  };
}

/** What `--fault`, `--target` and `--component` name, resolved against the cluster as status saw it. */
export interface FaultRequest {
  readonly fault: FaultName;
  /** A host name (targets like api-vip-holder are resolved before). */
  readonly target: string;
  readonly component?: string;
}

/** The fault `request` names, on `ctx`'s hosts through `platform`. */
export function makeFault(ctx: ClusterContext, platform: Platform, request: FaultRequest): Fault {
  const host = ctx.hosts.find((h) => h.spec.name === request.target);
  if (!host)
    throw new UsageError(`no host ${request.target} in the spec`, {
      hint: `hosts: ${ctx.hosts.map((h) => h.spec.name).join(", ")}; or api-vip-holder, ingress-vip-holder`,
    });
  const name = request.fault;
  if (name === "power-off")
    return {
      name,
      target: host.spec.name,
      description:
        platform.kind === "lab"
          ? `power-off of ${host.spec.name}`
          : `hard stop (SIGKILL) of every kubeha service on ${host.spec.name}`,
      inject: () => platform.powerOff(host),
      recover: () => platform.powerOn(host),
    };
  if (name === "partition")
    return {
      name,
      target: host.spec.name,
      description: `${host.spec.name} cut off from every other host${platform.kind === "lab" ? " (lab bridge)" : " (nftables on the host)"}`,
      inject: () => platform.partition(host),
      recover: () => platform.heal(host),
    };
  const componentName = name === "etcd-leader" ? "etcd" : request.component;
  if (!componentName)
    throw new UsageError(`--fault ${name} needs --component`, {
      hint: `one of: ${Object.keys(COMPONENTS).join(", ")}`,
    });
  const service = COMPONENTS[componentName];
  if (!service)
    throw new UsageError(`unknown --component ${componentName}`, {
      hint: `one of: ${Object.keys(COMPONENTS).join(", ")}`,
    });
  if (!service.hosts(ctx.cluster).some((h) => h.name === host.spec.name))
    throw new UsageError(`${host.spec.name} runs no ${componentName}`, {
      hint: `hosts that do: ${service
        .hosts(ctx.cluster)
        .map((h) => h.name)
        .join(", ")}`,
    });
  const unit = service.unit(ctx.cluster);
  if (!unit)
    throw new UsageError(`${componentName} has no systemd unit in this cluster (it runs as pods)`, {
      hint: "delete its pod on the host with kubectl instead",
    });
  const signal = (sig: string) => `systemctl kill --kill-who=all --signal=${sig} ${unit}`;
  const steps: Record<Exclude<FaultName, "power-off" | "partition">, [string, string, string]> = {
    // systemd restarts a killed unit by itself; recovery makes sure it runs
    kill: [`SIGKILL of ${componentName}`, signal("SIGKILL"), `systemctl start ${unit}`],
    "etcd-leader": [`SIGKILL of the etcd leader`, signal("SIGKILL"), `systemctl start ${unit}`],
    freeze: [`SIGSTOP of ${componentName}`, signal("SIGSTOP"), signal("SIGCONT")],
    stop: [`clean stop of ${componentName}`, `systemctl stop ${unit}`, `systemctl start ${unit}`],
  };
  const [what, inject, recover] = steps[name];
  return {
    name,
    target: host.spec.name,
    services: [service.name],
    description: `${what} on ${host.spec.name}`,
    inject: () => onHost(ctx, host, inject),
    recover: () => onHost(ctx, host, recover),
  };
}
