/**
 * The timings the load balancers and the apiservers must agree on, in one
 * place: how fast the agents' balancers notice an apiserver turning unready
 * or ready, how long a stopping apiserver keeps serving (longer than the
 * noticing), and how long a balancer lets a draining apiserver's sessions
 * finish (longer than that, so the apiserver closes them itself first).
 */
import type { Cluster } from "../spec/defaults.js";

/** How the agents' load balancers check an apiserver. */
export const LB_CHECK = { intervalMs: 300, timeoutMs: 500, fall: 2, rise: 3 } as const;
/** Longest time from an apiserver turning unready to the last load balancer taking it out. */
export const LB_DETECTION_MS = LB_CHECK.fall * (LB_CHECK.intervalMs + LB_CHECK.timeoutMs);
/** Longest time from an apiserver turning ready to the last load balancer sending it traffic again. */
export const LB_RISE_MS = LB_CHECK.rise * LB_CHECK.intervalMs + LB_CHECK.timeoutMs;

/**
 * How long a stopping apiserver keeps serving with /readyz failing: longer
 * than kubeha's load balancers take to notice (LB_DETECTION_MS), plus a
 * second. Behind your own load balancer kubeha cannot know its checks, so
 * 15 s: HAProxy's `inter 2s fall 3` and most cloud defaults fit.
 */
export function shutdownDelaySeconds(cluster: Cluster): number {
  return cluster.controlPlane.endpoint.mode === "vip" ? Math.ceil((LB_DETECTION_MS + 1000) / 1000) : 15;
}

/** How long the agents' balancers let the sessions of an apiserver that answers "not ready" finish: its shutdown delay and 2 s. */
export const lbDrainMs = (cluster: Cluster) => (shutdownDelaySeconds(cluster) + 2) * 1000;

/** How the agent on an edge checks its ingress controller's ping. */
export const INGRESS_CHECK = { intervalMs: 200, timeoutMs: 500, fall: 2, rise: 3 } as const;
/** Longest time from a controller's ping failing to its agent letting its VIPs go. */
export const INGRESS_DETECTION_MS = INGRESS_CHECK.fall * (INGRESS_CHECK.intervalMs + INGRESS_CHECK.timeoutMs);
/**
 * How long a stopping ingress controller keeps accepting requests with its
 * ping failing (Traefik's requestAcceptGraceTimeout; the lab nginx's stop):
 * its agent's detection and a hand-over, plus a second and a half.
 */
export const INGRESS_ACCEPT_GRACE_S = Math.ceil((INGRESS_DETECTION_MS + 1500) / 1000);
