/** The apiserver stand-in's config file, rendered by render/standin.ts and read by `kubeha-node standin`. */
import { z } from "zod";

/** What the stand-in reads at start. */
export const StandinConfigSchema = z.strictObject({
  host: z.string(),
  listen: z.string(),
  certFile: z.string(),
  keyFile: z.string(),
  etcd: z.strictObject({
    endpoints: z.array(z.string()).min(1),
    caFile: z.string(),
    certFile: z.string(),
    keyFile: z.string(),
  }),
  kubernetesVersion: z.string().default("v1.34.2"),
  shutdownDelayMs: z.number().int().min(0).default(3000),
});
export type StandinConfig = z.output<typeof StandinConfigSchema>;
