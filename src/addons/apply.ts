/**
 * Applying the add-ons through the API with server-side apply (the official
 * JavaScript client, field manager "kubeha", conflicts forced: these fields
 * are kubeha's), then waiting until what they run has rolled out. An object
 * counts as changed when the apply moved its resourceVersion, so a re-run
 * that changes nothing reports nothing. The client is loaded when first
 * used (it takes ~0.4 s to load, and only a real cluster's `up` needs it).
 */
import type { KubernetesObject, KubernetesObjectApi } from "@kubernetes/client-node";
import { sleep } from "../core/wait.js";
import { type Addon, MANAGED_BY } from "./objects.js";

/** Applies add-ons and waits for them: through the API (apiApplier), or a script in tests. */
export interface AddonApplier {
  apply(addon: Addon): Promise<Applied[]>;
  /** Undefined once everything `addon` runs has rolled out; why not when `timeoutMs` passes first. */
  rolledOut(addon: Addon, timeoutMs: number): Promise<string | undefined>;
}

/** The applier of real runs: server-side apply through the API endpoint of `kubeconfig`. */
export function apiApplier(kubeconfig: string): AddonApplier {
  const api = objectApi(kubeconfig);
  return {
    apply: async (addon) => applyAddon(await api, addon),
    rolledOut: async (addon, t) => waitRolledOut(await api, addon, t),
  };
}

/** What applying one object did. */
export interface Applied {
  readonly object: string;
  readonly changed: boolean;
  readonly created: boolean;
}

const nameOf = (o: KubernetesObject) =>
  `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name}`;

/** The API client of a kubeconfig (the state directory's admin.conf, through the API endpoint). */
export async function objectApi(kubeconfig: string): Promise<KubernetesObjectApi> {
  const { KubeConfig, KubernetesObjectApi } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  return KubernetesObjectApi.makeApiClient(kc);
}

const statusCode = (err: unknown) =>
  (err as { code?: number; statusCode?: number }).code ?? (err as { statusCode?: number }).statusCode;

/** Reads `o` as the API has it, or undefined when it does not exist. */
async function current(api: KubernetesObjectApi, o: KubernetesObject) {
  try {
    return await api.read({
      apiVersion: o.apiVersion as string,
      kind: o.kind as string,
      metadata: {
        name: o.metadata?.name as string,
        ...(o.metadata?.namespace && { namespace: o.metadata.namespace }),
      },
    });
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

/** Server-side applies every object of `addon`, in order. */
export async function applyAddon(api: KubernetesObjectApi, addon: Addon): Promise<Applied[]> {
  const { PatchStrategy } = await import("@kubernetes/client-node");
  const out: Applied[] = [];
  for (const object of addon.objects) {
    const spec = object.toJSON() as KubernetesObject;
    const before = await current(api, spec);
    const after = await api.patch(
      spec,
      undefined,
      undefined,
      MANAGED_BY,
      true,
      PatchStrategy.ServerSideApply,
    );
    out.push({
      object: nameOf(spec),
      created: !before,
      changed: before?.metadata?.resourceVersion !== after.metadata?.resourceVersion,
    });
  }
  return out;
}

interface RolloutStatus {
  metadata?: { generation?: number };
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    desiredNumberScheduled?: number;
    updatedNumberScheduled?: number;
    numberAvailable?: number;
    replicas?: number;
    updatedReplicas?: number;
    availableReplicas?: number;
  };
}

/** Whether a DaemonSet or Deployment has rolled out its current generation everywhere; why not, when not. */
export function rolledOut(kind: "DaemonSet" | "Deployment", o: RolloutStatus): string | undefined {
  const s = o.status ?? {};
  if ((s.observedGeneration ?? 0) < (o.metadata?.generation ?? 0))
    return "the controller has not seen the change yet";
  if (kind === "DaemonSet") {
    const want = s.desiredNumberScheduled ?? 0;
    if (want === 0) return "no node runs it yet";
    if ((s.updatedNumberScheduled ?? 0) < want) return `${s.updatedNumberScheduled ?? 0} of ${want} updated`;
    if ((s.numberAvailable ?? 0) < want) return `${s.numberAvailable ?? 0} of ${want} available`;
    return undefined;
  }
  const want = o.spec?.replicas ?? 1;
  if ((s.updatedReplicas ?? 0) < want) return `${s.updatedReplicas ?? 0} of ${want} updated`;
  if ((s.availableReplicas ?? 0) < want) return `${s.availableReplicas ?? 0} of ${want} available`;
  return undefined;
}

/** Waits until everything `addon` runs has rolled out; the reason when `timeoutMs` passes first. */
export async function waitRolledOut(
  api: KubernetesObjectApi,
  addon: Addon,
  timeoutMs: number,
  pollMs = 1000,
): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (const r of addon.rollouts) {
    let why: string | undefined = "not read yet";
    while (why) {
      const o = await current(api, {
        apiVersion: "apps/v1",
        kind: r.kind,
        metadata: { name: r.name, namespace: r.namespace },
      });
      why = o ? rolledOut(r.kind, o as RolloutStatus) : "it does not exist";
      if (!why) break;
      if (Date.now() > deadline) return `${r.kind} ${r.namespace}/${r.name}: ${why}`;
      await sleep(pollMs);
    }
  }
  return undefined;
}
