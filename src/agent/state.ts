/**
 * The agent's state as JSON, served beside its metrics at /state and read by
 * `kubeha status` over SSH: the same model the metrics render (frontends,
 * their backends with "since when", VIP managers, the edge's readiness), so
 * what status shows and what Prometheus scrapes never disagree.
 */
import type { EdgeCoordinator } from "./edge.js";
import type { Frontend } from "./lb/frontend.js";
import type { VipManager } from "./vip/manager.js";

/** What GET /state answers; `kubeha status -o json` carries it per host. */
export interface AgentState {
  readonly host: string;
  /** Milliseconds since the epoch, when the state was taken. */
  readonly time: number;
  readonly frontends: readonly {
    readonly name: string;
    readonly listen: string;
    readonly refused: number;
    readonly backends: readonly {
      readonly endpoint: string;
      readonly state: "up" | "down";
      /** When the state last changed, ms since the epoch. */
      readonly since: number;
      readonly active: number;
      readonly removed: boolean;
    }[];
  }[];
  readonly vips: readonly {
    readonly name: string;
    readonly address: string;
    readonly holder: boolean;
    readonly leaseTtlSeconds: number;
    /** While holding: ms since the newest acknowledged lease renewal was sent. */
    readonly leaseAgeMs?: number;
    readonly transitions: number;
    /** When this host last took or let go of it, ms since the epoch (0: never). */
    readonly lastTransition: number;
  }[];
  /** Only on edges: the local ingress controller's verdict and whether this edge is registered as ready. */
  readonly edge?: { readonly controllerReady: boolean; readonly serving: boolean };
}

/** The state of a running agent. */
export function agentState(
  host: string,
  frontends: readonly Frontend[],
  vips: readonly VipManager[],
  edge?: EdgeCoordinator,
): AgentState {
  return {
    host,
    time: Date.now(),
    frontends: frontends.map((f) => ({
      name: f.config.name,
      listen: f.config.listen,
      refused: f.refused,
      backends: f.backends.map((b) => ({
        endpoint: b.endpoint,
        state: b.state,
        since: b.since,
        active: b.active,
        removed: b.removed,
      })),
    })),
    vips: vips.map((m) => ({
      name: m.settings.name,
      address: m.settings.address,
      holder: m.isHolder,
      leaseTtlSeconds: m.settings.leaseTtlSeconds,
      ...(m.leaseAgeMs !== undefined && { leaseAgeMs: m.leaseAgeMs }),
      transitions: m.transitions,
      lastTransition: Math.round(m.lastTransition * 1000),
    })),
    ...(edge && { edge: { controllerReady: edge.controllerIsReady, serving: edge.isServing } }),
  };
}
