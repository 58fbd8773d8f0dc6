/**
 * The agent's per-host configuration, rendered by the CLI from the spec
 * (src/render/agent-config.ts) and read by `kubeha agent --config FILE`.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";

/** Where a frontend listens: an IP address (a VIP included) and a port. */
const Endpoint = z.string().regex(/^[0-9a-fA-F.:[\]]+:\d{1,5}$/, { error: "must be ADDRESS:PORT" });
/** A backend: an IP address or a DNS name (resolved at each connect) and a port. */
const Backend = z.string().regex(/^([0-9a-fA-F.:[\]]+|[a-z0-9]([-a-z0-9.]*[a-z0-9])?):\d{1,5}$/, {
  error: "must be ADDRESS:PORT or NAME:PORT",
});

/** How a frontend checks its backends. */
export const HealthCheckSchema = z.strictObject({
  /** `https`: GET `path` verified against `caFile`; `tcp`: a connect. */
  kind: z.enum(["https", "tcp"]),
  path: z.string().default("/readyz"),
  caFile: z.string().optional(),
  /** Client certificate for the check, if the backend wants one. */
  certFile: z.string().optional(),
  keyFile: z.string().optional(),
  intervalMs: z.number().int().min(50).default(500),
  timeoutMs: z.number().int().min(50).default(1000),
  /** Consecutive failures that take a backend out. */
  fall: z.number().int().min(1).default(2),
  /** Consecutive successes that bring it back; more than fall (hysteresis). */
  rise: z.number().int().min(1).default(3),
});

export const FrontendSchema = z.strictObject({
  name: z.string().min(1),
  /** ADDRESS:PORT to listen on; a VIP is bound before the host holds it (non-local bind). */
  listen: Endpoint,
  backends: z.array(Backend),
  check: HealthCheckSchema,
  /** How long to wait for a backend's TCP handshake before trying the next one. */
  connectTimeoutMs: z.number().int().min(10).default(1000),
  /**
   * How long the sessions of a backend that answers "not ready" may finish
   * there before they are closed (a stopping apiserver closes them itself
   * at the end of its shutdown delay; one stuck unready does not).
   */
  drainMs: z.number().int().min(0).default(5000),
});

export const VipSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9-]+$/),
  address: z.ipv4(),
  /** The frontend whose health gates the campaign. */
  frontend: z.string(),
  leaseTtlSeconds: z.number().int().min(1).max(60).default(2),
});

/** The ingress edge on an edge host (edge.ts): the local controller's readiness gates its ingress VIPs. */
export const IngressSchema = z.strictObject({
  controller: z.strictObject({
    /** The controller's health endpoint: 200 when ready (Traefik's ping). */
    url: z.url(),
    intervalMs: z.number().int().min(50).default(200),
    timeoutMs: z.number().int().min(50).default(500),
    fall: z.number().int().min(1).default(2),
    rise: z.number().int().min(1).default(3),
  }),
  /** Every edge host in spec order: ingress VIP i prefers edges[i mod n]. */
  edges: z.array(z.string()).min(1),
  vips: z
    .array(
      z.strictObject({
        name: z.string().regex(/^ingress-[0-9]+$/),
        address: z.ipv4(),
        leaseTtlSeconds: z.number().int().min(1).max(60).default(2),
      }),
    )
    .min(1),
  /** Opt-in rebalance: after this long with no change, the most loaded edge above its share hands one VIP over. */
  rebalanceQuietMs: z.number().int().min(1000).optional(),
});

export const EtcdAccessSchema = z.strictObject({
  /** Client URLs, this host's own member first. */
  endpoints: z.array(z.url()).min(1),
  caFile: z.string(),
  certFile: z.string(),
  keyFile: z.string(),
});

export const AgentConfigSchema = z.strictObject({
  host: z.string(),
  /** The host's own address: the VIP goes on the interface that carries it. */
  address: z.string().optional(),
  /** Prometheus metrics on 127.0.0.1:metricsPort. */
  metricsPort: z.number().int().min(1).max(65535).default(9942),
  frontends: z.array(FrontendSchema),
  vips: z.array(VipSchema).default([]),
  ingress: IngressSchema.optional(),
  etcd: EtcdAccessSchema.optional(),
});

export type AgentConfig = z.output<typeof AgentConfigSchema>;
export type FrontendConfig = z.output<typeof FrontendSchema>;
export type HealthCheckConfig = z.output<typeof HealthCheckSchema>;
export type VipConfig = z.output<typeof VipSchema>;
export type IngressConfig = z.output<typeof IngressSchema>;

/** Reads and validates an agent config file; throws with every problem listed. */
export function readAgentConfig(file: string): AgentConfig {
  const parsed = AgentConfigSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
  if (!parsed.success) {
    throw new Error(
      `${file}: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    );
  }
  for (const f of parsed.data.frontends) {
    if (f.backends.length === 0)
      throw new Error(`${file}: frontend ${f.name} has no backends; an empty list is refused`);
    if (f.check.rise <= f.check.fall)
      throw new Error(
        `${file}: frontend ${f.name}: rise (${f.check.rise}) must exceed fall (${f.check.fall})`,
      );
  }
  const cfg = parsed.data;
  for (const v of cfg.vips) {
    if (!cfg.frontends.some((f) => f.name === v.frontend))
      throw new Error(`${file}: vip ${v.name}: no frontend named ${v.frontend}`);
    if (!cfg.etcd || !cfg.address)
      throw new Error(`${file}: vip ${v.name} needs etcd access and the host's address`);
  }
  if (cfg.ingress) {
    const c = cfg.ingress.controller;
    if (c.rise <= c.fall)
      throw new Error(`${file}: ingress controller check: rise (${c.rise}) must exceed fall (${c.fall})`);
    if (!cfg.etcd || !cfg.address)
      throw new Error(`${file}: the ingress VIPs need etcd access and the host's address`);
  }
  return cfg;
}
