/** What one `kubeha status` round sees (status/observe.ts reads it, status/assess.ts judges it). */

import type { AgentState } from "../agent/state.js";
import type { EtcdClient } from "../etcd/client.js";
import type { EndpointStatus } from "../etcd/etcdctl.js";
import type { HostSnapshot } from "../etcd/snapshot-host.js";
import type { CertRow } from "../pki/check.js";

/** One service on one host. */
export interface ServiceObservation {
  /** The registry's name: etcd, apiserver, agent, kubelet ... */
  readonly name: string;
  readonly unit?: string;
  /** `systemctl is-active` of its unit: active, inactive, failed, activating ... */
  readonly active?: string;
  /** Its readiness command passed. */
  readonly ready: boolean;
}

/** One etcd member, as it answers on its own host. */
export interface MemberObservation {
  readonly status?: EndpointStatus;
  /** Why the member did not answer its status. */
  readonly error?: string;
  /** The member names its member list holds, sorted (learners marked "name (learner)"). */
  readonly members?: readonly string[];
  readonly alarms: readonly string[];
}

/** A VIP election key as read. */
export interface VipKeyValue {
  readonly key: string;
  readonly value: string;
  readonly lease: string;
}

/** One host. */
export interface HostObservation {
  readonly name: string;
  readonly address: string;
  readonly roles: readonly string[];
  /** Why it could not be read; the other fields are empty then. */
  readonly unreachable?: string;
  readonly services: readonly ServiceObservation[];
  readonly addresses: readonly string[];
  /** Link-layer addresses of its interfaces, to name who answers ARP. */
  readonly macs: readonly string[];
  readonly agent?: AgentState;
  readonly etcd?: MemberObservation;
  /** Its apiserver's GET /readyz: HTTP code (0: no answer) and time taken. */
  readonly apiserver?: { readonly code: number; readonly ms: number };
  /** The etcd snapshots kept on it (a member), newest first. */
  readonly snapshots?: readonly HostSnapshot[];
}

/** A VIP's election key, as etcd holds it. */
export interface VipKey {
  readonly name: string;
  /** The holder's host name; "" after a clean hand-over. */
  readonly holder: string;
  readonly lease: string;
}

/** Who answered an ARP request for a VIP, asked from a host that does not hold it. */
export interface ArpObservation {
  readonly vip: string;
  readonly observer?: string;
  readonly macs: readonly string[];
  /** Why it was not asked, or why asking failed. */
  readonly skipped?: string;
}

/** Everything one status round saw. */
export interface ClusterObservation {
  /** When the round started, ms since the epoch. */
  readonly time: number;
  readonly hosts: readonly HostObservation[];
  /** The VIP election keys (undefined: no member could be read). */
  readonly vipKeys?: readonly VipKey[];
  readonly arp: readonly ArpObservation[];
  /** Each member's hash of its key space at one revision, on request. */
  readonly hashKv?: {
    readonly revision: number;
    readonly hashes: Readonly<Record<string, number>>;
    readonly error?: string;
  };
  /** Who leads the controller-manager and the scheduler, by their leases in the API, or why that is unknown. */
  readonly leaders: {
    readonly controllerManager?: string;
    readonly scheduler?: string;
    readonly unknown?: string;
  };
  /** An external load balancer's answer to /readyz (endpoint mode external). */
  readonly external?: {
    readonly url: string;
    readonly code: number;
    readonly ms: number;
    readonly error?: string;
  };
  readonly certificates: readonly CertRow[];
  /** The snapshots saved on this machine (`etcd snapshot save`), newest first: name and time (ms). */
  readonly savedSnapshots: readonly { readonly name: string; readonly time: number }[];
}

export interface ObserveOptions {
  /** Compare the members' key-space hashes (etcdctl endpoint hashkv). */
  readonly hashKv?: boolean;
  /**
   * A client of every member's endpoint (etcdMembers order) with a
   * root-role certificate: members are read from here over gRPC, which costs
   * the hosts nothing; a member it cannot reach is read with etcdctl on its
   * host instead.
   */
  readonly etcd?: EtcdClient;
  /** Leave the certificates unchecked (a drill's rounds do not need them). */
  readonly skipCertificates?: boolean;
}

/** A member as read over gRPC from this machine. */
export interface DirectMember {
  readonly status?: EndpointStatus;
  readonly members?: readonly { name: string; isLearner: boolean }[];
  readonly alarms?: readonly string[];
  readonly vipKeys?: readonly { key: string; value: string; lease: bigint }[];
  /** A linearizable read through it succeeded (what `etcdctl endpoint health` checks). */
  readonly healthy: boolean;
}
