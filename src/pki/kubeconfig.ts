/** Kubeconfig files with embedded certificates, as kubeadm writes them. */
import { parse, stringify } from "yaml";

/** What a kubeconfig holds for one user of one cluster. */
export interface KubeconfigData {
  readonly cluster: string;
  readonly server: string;
  readonly caPem: string;
  readonly user: string;
  readonly certPem: string;
  readonly keyPem: string;
}

const b64 = (s: string) => Buffer.from(s).toString("base64");
const unb64 = (s: unknown) => (typeof s === "string" ? Buffer.from(s, "base64").toString("utf8") : "");

/** Renders a kubeconfig. */
export function renderKubeconfig(k: KubeconfigData): string {
  const context = `${k.user}@${k.cluster}`;
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      { name: k.cluster, cluster: { "certificate-authority-data": b64(k.caPem), server: k.server } },
    ],
    contexts: [{ name: context, context: { cluster: k.cluster, user: k.user } }],
    "current-context": context,
    users: [
      { name: k.user, user: { "client-certificate-data": b64(k.certPem), "client-key-data": b64(k.keyPem) } },
    ],
    preferences: {},
  });
}

/** Reads back the first cluster and user of a kubeconfig; undefined when it is not one. */
export function parseKubeconfig(text: string): KubeconfigData | undefined {
  try {
    const doc = parse(text);
    const cluster = doc?.clusters?.[0];
    const user = doc?.users?.[0];
    if (!cluster || !user) return undefined;
    return {
      cluster: String(cluster.name),
      server: String(cluster.cluster?.server ?? ""),
      caPem: unb64(cluster.cluster?.["certificate-authority-data"]),
      user: String(user.name),
      certPem: unb64(user.user?.["client-certificate-data"]),
      keyPem: unb64(user.user?.["client-key-data"]),
    };
  } catch {
    return undefined;
  }
}
