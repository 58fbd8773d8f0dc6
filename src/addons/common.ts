/**
 * What every add-on module shares: the pinned images, kubeha's labels, and
 * the shape of an add-on. Its own file so that objects.ts (which lists the
 * add-ons) and the add-ons in files of their own (traefik.ts) import it
 * without importing each other; objects.ts re-exports it.
 */

/** Images the add-ons run, pinned (kubeha does not pull them; the nodes' containerd does). */
export const ADDON_IMAGES = {
  flannel: "ghcr.io/flannel-io/flannel:v0.27.4",
  flannelCniPlugin: "ghcr.io/flannel-io/flannel-cni-plugin:v1.8.0-flannel1",
  coredns: "registry.k8s.io/coredns/coredns:v1.12.1",
  traefik: "docker.io/traefik:v3.5.3",
} as const;

/** What kubeha labels its objects with, and the field manager of its server-side applies. */
export const MANAGED_BY = "kubeha";
export const labels = (extra: Record<string, string> = {}) => ({
  "app.kubernetes.io/managed-by": MANAGED_BY,
  ...extra,
});

/** An object kubeha applies: validated, with its kind and name for messages. */
export interface AddonObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: { readonly name?: string; readonly namespace?: string };
  validate(): void;
  toJSON(): unknown;
}

/** One add-on: a file of objects applied together, and what must roll out before it counts as applied. */
export interface Addon {
  readonly name: string;
  readonly objects: readonly AddonObject[];
  readonly rollouts: readonly { kind: "DaemonSet" | "Deployment"; namespace: string; name: string }[];
}
