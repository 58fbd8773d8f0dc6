/**
 * `kubeha status -o json`: a stable schema (apiVersion kubeha/v1alpha1, kind
 * Status), fields only ever added. status/assess.ts fills it.
 */

import type { Capability } from "../plan/capabilities.js";
import type { ClusterObservation, ServiceObservation } from "./observation.js";

export type Verdict = "healthy" | "degraded" | "down";
export type CapabilityVerdict = "up" | "degraded" | "down" | "not configured";

/** Exit codes of `kubeha status`. */
export const STATUS_EXIT: Readonly<Record<Verdict, number>> = { healthy: 0, degraded: 1, down: 2 };

export interface Problem {
  /** "down" and "degraded" set the verdict; a warning does not. */
  readonly severity: "down" | "degraded" | "warning";
  /** What it is about: a host, a VIP, a capability, "etcd". */
  readonly subject: string;
  readonly message: string;
}

export interface RequirementStatus {
  readonly what: string;
  readonly service: string;
  readonly hosts: readonly string[];
  readonly alive: readonly string[];
  readonly atLeast: number;
  /** How many more may fail with the requirement still met (negative: short by that many). */
  readonly canLoseMore: number;
}

export interface CapabilityStatus {
  readonly name: Capability["name"];
  readonly title: string;
  readonly verdict: CapabilityVerdict;
  readonly requirements: readonly RequirementStatus[];
  /** "2 of 3 etcd members alive, can lose 0 more; ..." */
  readonly detail: string;
}

export interface MemberRow {
  readonly host: string;
  readonly id?: string;
  readonly leader: boolean;
  readonly term?: number;
  readonly raftIndex?: number;
  /** Raft entries behind the leader, as sampled. */
  readonly lag?: number;
  readonly revision?: number;
  readonly dbSize?: number;
  readonly dbSizeInUse?: number;
  readonly learner: boolean;
  readonly version?: string;
  readonly alarms: readonly string[];
  readonly members?: readonly string[];
  readonly error?: string;
}

export interface VipRow {
  readonly name: string;
  readonly title: string;
  readonly address: string;
  /** The holder its etcd key names ("" released, undefined unread). */
  readonly keyHolder?: string;
  /** Hosts that have the address on an interface. */
  readonly onHosts: readonly string[];
  /** The holder's lease as its agent sees it: TTL, and ms since the newest acknowledged renewal. */
  readonly lease?: { readonly ttlSeconds: number; readonly renewedMsAgo: number };
  /** When it last moved (the holder took it), ISO time. */
  readonly lastMove?: string;
  /** Who answered ARP for it, asked from `observer` (host names, or the MAC when no host has it). */
  readonly arp: {
    readonly observer?: string;
    readonly answeredBy: readonly string[];
    readonly skipped?: string;
  };
}

export interface BackendRow {
  readonly host: string;
  readonly frontend: string;
  readonly listen: string;
  readonly backend: string;
  readonly state: "up" | "down";
  readonly since: string;
}

export interface ApiserverRow {
  readonly host: string;
  readonly ready: boolean;
  readonly code: number;
  readonly ms: number;
  readonly controllerManager?: boolean;
  readonly scheduler?: boolean;
}

export interface StatusReport {
  readonly apiVersion: "kubeha/v1alpha1";
  readonly kind: "Status";
  readonly cluster: string;
  readonly time: string;
  readonly verdict: Verdict;
  readonly exitCode: number;
  readonly capabilities: readonly CapabilityStatus[];
  readonly problems: readonly Problem[];
  readonly hosts: readonly {
    readonly name: string;
    readonly address: string;
    readonly roles: readonly string[];
    readonly reachable: boolean;
    readonly error?: string;
    readonly services: readonly ServiceObservation[];
  }[];
  readonly etcd: {
    readonly members: readonly MemberRow[];
    readonly leader?: string;
    readonly memberListsAgree: boolean;
    readonly hashKv?: ClusterObservation["hashKv"] & { readonly agree: boolean };
  };
  readonly apiservers: readonly ApiserverRow[];
  readonly leaders: ClusterObservation["leaders"];
  readonly external?: ClusterObservation["external"];
  readonly vips: readonly VipRow[];
  readonly loadBalancers: readonly BackendRow[];
  readonly certificates: readonly {
    readonly file: string;
    readonly daysLeft: number | null;
    readonly status: string;
  }[];
  /** etcd snapshots: the newest anywhere (on a member or saved on this machine), and how many there are. */
  readonly snapshots: {
    readonly last?: {
      readonly where: string;
      readonly name: string;
      readonly time: string;
      readonly ageSeconds: number;
    };
    readonly onMembers: number;
    readonly savedHere: number;
    /** Scheduled snapshots' interval in seconds; absent when they are off. */
    readonly everySeconds?: number;
  };
}
