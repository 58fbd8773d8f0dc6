/**
 * The control plane on every controlplane host: kube-apiserver,
 * kube-controller-manager and kube-scheduler, each a systemd unit running
 * /usr/local/bin/<name> with the flags of render/control-plane.ts. The
 * binaries come from the release (`kubernetes.binaries.source: download` or
 * `dir`) or, in the lab (`standin`), are the stand-ins of the host
 * executable under the same names (ARCHITECTURE §6). The certificates a
 * component reads are the PKI files its flags name, so a re-issued one
 * restarts exactly the components that read it. Changes roll one host at a
 * time, each ready again and back in every load balancer before the next.
 */
import {
  AUDIT_POLICY,
  HostPki,
  KUBERNETES_DIR,
  kubeBinary,
  NODE_BINARY,
  pkiPath,
  SCHEDULER_CONFIG,
  Unit,
  unitPath,
} from "../core/host-paths.js";
import { httpsUrl } from "../core/ip.js";
import { shq } from "../core/shell.js";
import type { Flag } from "../kubernetes/flags.js";
import {
  apiserverFlags,
  CONTROLLER_MANAGER_PORT,
  controllerManagerFlags,
  renderAuditPolicy,
  renderComponentUnit,
  renderSchedulerConfig,
  SCHEDULER_PORT,
  schedulerFlags,
} from "../render/control-plane.js";
import { renderStandinWrapper } from "../render/standin.js";
import { LB_RISE_MS } from "../render/timing.js";
import type { Cluster, Host } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import type { Artifacts, HostService, Listener, ServiceFile } from "./service.js";

type Name = "kube-apiserver" | "kube-controller-manager" | "kube-scheduler";

/** The executable at /usr/local/bin/<name>: the release binary, or the lab's stand-in wrapper and the host executable it runs. */
export function binaryFiles(cluster: Cluster, name: string, artifacts: Artifacts): ServiceFile[] {
  if (cluster.kubernetes.binaries.source === "standin") {
    return [
      { path: NODE_BINARY, content: artifacts.nodeBinary, mode: 0o755 },
      { path: kubeBinary(name), content: renderStandinWrapper(cluster, name), mode: 0o755 },
    ];
  }
  const binary = artifacts.kubernetes?.get(name);
  return binary ? [{ path: kubeBinary(name), content: binary, mode: 0o755 }] : [];
}

/** The PKI files (relative to /etc/kubernetes) the flags name. */
export const pkiFilesOf = (flags: readonly Flag[]) =>
  flags
    .flatMap(([, v]) => v.split(","))
    .flatMap((v) => (v.startsWith(`${KUBERNETES_DIR}/`) ? [v.slice(KUBERNETES_DIR.length + 1)] : []));

const curl = (url: string) => `curl -sf -m 2 -o /dev/null --cacert ${pkiPath(HostPki.ca.cert)} ${shq(url)}`;

function component(spec: {
  name: string;
  binary: Name;
  unit: string;
  flags: (cluster: Cluster, host: Host) => Flag[];
  listeners: (cluster: Cluster, host: Host) => Listener[];
  /** Files of its own besides binary and unit. */
  own?: (cluster: Cluster, artifacts: Artifacts) => ServiceFile[];
  /** PKI files it reads that no flag names (the scheduler's kubeconfig is in its config file). */
  reads?: readonly string[];
  readiness: (cluster: Cluster, host: Host) => string;
  settleMs?: number;
}): HostService {
  return {
    name: spec.name,
    hosts: (cluster) => new HostList(cluster.hosts).controlplanes(),
    listeners: spec.listeners,
    unit: () => spec.unit,
    files: (cluster, host, artifacts) => [
      ...binaryFiles(cluster, spec.binary, artifacts),
      ...(spec.own?.(cluster, artifacts) ?? []),
      {
        path: unitPath(spec.unit),
        content: renderComponentUnit(cluster, spec.binary, spec.flags(cluster, host)),
        mode: 0o644,
      },
    ],
    certificates: (cluster, host) => [...pkiFilesOf(spec.flags(cluster, host)), ...(spec.reads ?? [])],
    readiness: spec.readiness,
    rollout: "rolling",
    ...(spec.settleMs !== undefined && { settleMs: spec.settleMs }),
  };
}

export const apiserver = component({
  name: "apiserver",
  binary: "kube-apiserver",
  unit: Unit.apiserver,
  flags: apiserverFlags,
  listeners: (cluster, host) => [
    {
      address: host.address,
      port: cluster.controlPlane.apiserverPort,
      owner: "kube-apiserver",
      path: ["spec", "controlPlane", "apiserverPort"],
    },
  ],
  own: (cluster, artifacts) => [
    { path: AUDIT_POLICY, content: renderAuditPolicy(), mode: 0o600 },
    // kubectl beside the apiserver, for operators on the host; nothing reads it
    ...(cluster.kubernetes.binaries.source === "standin"
      ? []
      : binaryFiles(cluster, "kubectl", artifacts).map((f) => ({ ...f, onChange: "nothing" as const }))),
  ],
  readiness: (cluster, host) => curl(`${httpsUrl(host.address, cluster.controlPlane.apiserverPort)}/readyz`),
  // ready is not enough: the next apiserver stops only once every load balancer sends this one traffic again
  settleMs: LB_RISE_MS,
});

export const controllerManager = component({
  name: "controller-manager",
  binary: "kube-controller-manager",
  unit: Unit.controllerManager,
  flags: (cluster) => controllerManagerFlags(cluster),
  listeners: () => [
    { address: "127.0.0.1", port: CONTROLLER_MANAGER_PORT, owner: "kube-controller-manager" },
  ],
  readiness: () => curl(`https://127.0.0.1:${CONTROLLER_MANAGER_PORT}/healthz`),
});

export const scheduler = component({
  name: "scheduler",
  binary: "kube-scheduler",
  unit: Unit.scheduler,
  flags: (cluster) => schedulerFlags(cluster),
  listeners: () => [{ address: "127.0.0.1", port: SCHEDULER_PORT, owner: "kube-scheduler" }],
  own: () => [{ path: SCHEDULER_CONFIG, content: renderSchedulerConfig(), mode: 0o644 }],
  reads: [HostPki.kubeconfig("scheduler")],
  readiness: () => curl(`https://127.0.0.1:${SCHEDULER_PORT}/readyz`),
});
