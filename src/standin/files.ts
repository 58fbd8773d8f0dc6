/**
 * A stand-in opens every file its flags name, as the real component does
 * at start, and refuses what the real one would refuse or what would break
 * it later: a missing file, a certificate or key that does not parse, a
 * certificate whose key does not match, a client certificate not signed by
 * the CA that will verify it, a service-account key pair that is not one, an
 * encryption config whose key has the wrong length, a kubeconfig whose
 * credentials do not match. Messages name the flag and the file.
 */
import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import type { StandinComponent } from "./command-line.js";

/** Flags whose value is a file the component reads at start. */
const FILE_FLAG =
  /(?:-file|cafile|certfile|keyfile|^kubeconfig|-kubeconfig|^config|-config|kubelet-client-certificate|kubelet-client-key|kubelet-certificate-authority)$/;
const NOT_FILES = new Set(["runtime-config"]);

/** What a stand-in read from one file. */
export type FileContent =
  | { readonly kind: "certs"; readonly certs: readonly X509Certificate[]; readonly pem: string }
  | { readonly kind: "private-key"; readonly key: KeyObject; readonly pem: string }
  | { readonly kind: "public-key"; readonly key: KeyObject }
  | { readonly kind: "yaml"; readonly doc: Record<string, unknown> };

/** A client identity and server from a kubeconfig. */
export interface Kubeconfig {
  readonly server: string;
  readonly caPem: string;
  readonly certPem: string;
  readonly keyPem: string;
  readonly user: string;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** A file's content as a stand-in reads it: certificates, a key, or a YAML document. */
export function readContent(path: string): FileContent {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(
      `open ${path}: ${code === "ENOENT" ? "no such file or directory" : code === "EACCES" ? "permission denied" : String(err)}`,
    );
  }
  if (text.includes("-----BEGIN CERTIFICATE-----")) {
    const blocks = text.match(PEM_CERT) ?? [];
    return { kind: "certs", certs: blocks.map((b) => new X509Certificate(b)), pem: text };
  }
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text))
    return { kind: "private-key", key: createPrivateKey(text), pem: text };
  if (text.includes("-----BEGIN PUBLIC KEY-----")) return { kind: "public-key", key: createPublicKey(text) };
  const doc = parseYaml(text) as unknown;
  if (!doc || typeof doc !== "object") throw new Error(`${path}: neither PEM nor a YAML document`);
  return { kind: "yaml", doc: doc as Record<string, unknown> };
}

/** The files named by a stand-in's flags, read and checked. */
export class NamedFiles {
  private readonly byFlag = new Map<string, FileContent>();

  constructor(
    private readonly component: StandinComponent,
    private readonly flags: ReadonlyMap<string, string>,
  ) {
    for (const [flag, value] of flags) {
      if (!FILE_FLAG.test(flag) || NOT_FILES.has(flag) || value === "") continue;
      try {
        this.byFlag.set(flag, readContent(value));
      } catch (err) {
        throw new Error(`--${flag}: ${(err as Error).message}`);
      }
    }
    this.check();
  }

  /** The certificates of a flag's file. */
  certs(flag: string): readonly X509Certificate[] {
    const c = this.byFlag.get(flag);
    if (c?.kind !== "certs")
      throw new Error(`--${flag} ${this.flags.get(flag) ?? ""}: not a PEM certificate file`);
    return c.certs;
  }

  /** The PEM text of a flag's certificate or key file. */
  pem(flag: string): string {
    const c = this.byFlag.get(flag);
    if (c?.kind === "certs" || c?.kind === "private-key") return c.pem;
    throw new Error(`--${flag} ${this.flags.get(flag) ?? ""}: not a PEM file`);
  }

  privateKey(flag: string): KeyObject {
    const c = this.byFlag.get(flag);
    if (c?.kind !== "private-key")
      throw new Error(`--${flag} ${this.flags.get(flag) ?? ""}: not a PEM private key`);
    return c.key;
  }

  yaml(flag: string): Record<string, unknown> {
    const c = this.byFlag.get(flag);
    if (c?.kind !== "yaml") throw new Error(`--${flag} ${this.flags.get(flag) ?? ""}: not a YAML document`);
    return c.doc;
  }

  has(flag: string): boolean {
    return this.byFlag.has(flag);
  }

  /** The kubeconfig a flag names (or `path` read now, for one named inside a config file). */
  kubeconfig(flag: string, path?: string): Kubeconfig {
    const where = `--${flag} ${path ?? this.flags.get(flag) ?? ""}`;
    const content = path ? readContent(path) : this.byFlag.get(flag);
    if (content?.kind !== "yaml") throw new Error(`${where}: not a kubeconfig`);
    return parseKubeconfig(content.doc, where);
  }

  private pair(certFlag: string, keyFlag: string) {
    if (!this.has(certFlag) && !this.has(keyFlag)) return;
    const cert = this.certs(certFlag)[0];
    if (!cert?.checkPrivateKey(this.privateKey(keyFlag))) {
      throw new Error(
        `--${keyFlag} ${this.flags.get(keyFlag)} is not the key of --${certFlag} ${this.flags.get(certFlag)}: tls: private key does not match public key`,
      );
    }
  }

  private signedBy(certFlag: string, caFlag: string) {
    if (!this.has(certFlag) || !this.has(caFlag)) return;
    const cert = this.certs(certFlag)[0];
    const cas = this.certs(caFlag);
    if (!cert || !cas.some((ca) => cert.verify(ca.publicKey))) {
      throw new Error(
        `--${certFlag} ${this.flags.get(certFlag)} is not signed by --${caFlag} ${this.flags.get(caFlag)}: x509: certificate signed by unknown authority`,
      );
    }
  }

  private check() {
    this.pair("tls-cert-file", "tls-private-key-file");
    for (const f of ["client-ca-file", "requestheader-client-ca-file", "root-ca-file", "etcd-cafile"]) {
      if (this.has(f)) this.certs(f);
    }
    if (this.component === "kube-apiserver") {
      this.pair("etcd-certfile", "etcd-keyfile");
      this.signedBy("etcd-certfile", "etcd-cafile");
      this.pair("kubelet-client-certificate", "kubelet-client-key");
      this.signedBy("kubelet-client-certificate", "client-ca-file");
      this.pair("proxy-client-cert-file", "proxy-client-key-file");
      this.signedBy("proxy-client-cert-file", "requestheader-client-ca-file");
      this.serviceAccountKeys();
      if (this.has("encryption-provider-config"))
        checkEncryptionConfig(this.yaml("encryption-provider-config"));
      if (this.has("audit-policy-file")) {
        const policy = this.yaml("audit-policy-file");
        if (policy.kind !== "Policy" || !Array.isArray(policy.rules)) {
          throw new Error(
            `--audit-policy-file ${this.flags.get("audit-policy-file")}: not an audit Policy with rules`,
          );
        }
      }
    }
    if (this.component === "kube-controller-manager") {
      this.pair("cluster-signing-cert-file", "cluster-signing-key-file");
      if (this.has("service-account-private-key-file")) this.privateKey("service-account-private-key-file");
    }
    for (const f of ["kubeconfig", "authentication-kubeconfig", "authorization-kubeconfig"]) {
      if (this.has(f)) this.kubeconfig(f);
    }
  }

  private serviceAccountKeys() {
    const pub = this.byFlag.get("service-account-key-file");
    if (!pub || !this.has("service-account-signing-key-file")) return;
    const der = (k: KeyObject) => k.export({ type: "spki", format: "der" });
    const signing = createPublicKey(this.privateKey("service-account-signing-key-file"));
    const verifying =
      pub.kind === "public-key" ? pub.key : pub.kind === "private-key" ? createPublicKey(pub.key) : undefined;
    if (!verifying || !der(verifying).equals(der(signing))) {
      throw new Error(
        `--service-account-key-file ${this.flags.get("service-account-key-file")} does not verify what --service-account-signing-key-file signs`,
      );
    }
  }
}

function checkEncryptionConfig(doc: Record<string, unknown>) {
  if (doc.kind !== "EncryptionConfiguration" || !Array.isArray(doc.resources)) {
    throw new Error("--encryption-provider-config: not an EncryptionConfiguration with resources");
  }
  const lengths: Record<string, number[]> = { secretbox: [32], aescbc: [16, 24, 32], aesgcm: [16, 24, 32] };
  for (const r of doc.resources as {
    providers?: Record<string, { keys?: { name?: string; secret?: string }[] }>[];
  }[]) {
    for (const provider of r.providers ?? []) {
      for (const [kind, settings] of Object.entries(provider)) {
        for (const key of settings?.keys ?? []) {
          const n = Buffer.from(key.secret ?? "", "base64").length;
          if (lengths[kind] && !lengths[kind].includes(n)) {
            throw new Error(
              `--encryption-provider-config: ${kind} key ${key.name}: a ${n}-byte secret, want ${lengths[kind].join(" or ")}`,
            );
          }
        }
      }
    }
  }
}

function parseKubeconfig(doc: Record<string, unknown>, where: string): Kubeconfig {
  type Named<T> = { name: string } & T;
  const list = <T>(k: string) => (Array.isArray(doc[k]) ? (doc[k] as Named<T>[]) : []);
  const contexts = list<{ context: { cluster: string; user: string } }>("contexts");
  const current = contexts.find((c) => c.name === doc["current-context"]) ?? contexts[0];
  const cluster = list<{ cluster: Record<string, string> }>("clusters").find(
    (c) => c.name === current?.context.cluster,
  )?.cluster;
  const user = list<{ user: Record<string, string> }>("users").find(
    (u) => u.name === current?.context.user,
  )?.user;
  const data = (o: Record<string, string> | undefined, k: string) =>
    o?.[`${k}-data`]
      ? Buffer.from(o[`${k}-data`] ?? "", "base64").toString()
      : o?.[k]
        ? readFileSync(o[k] ?? "", "utf8")
        : "";
  const config = {
    server: cluster?.server ?? "",
    caPem: data(cluster, "certificate-authority"),
    certPem: data(user, "client-certificate"),
    keyPem: data(user, "client-key"),
    user: current?.context.user ?? "",
  };
  if (!config.server || !config.caPem || !config.certPem || !config.keyPem) {
    throw new Error(`${where}: the current context needs a server, its CA and a client certificate and key`);
  }
  if (!new X509Certificate(config.certPem).checkPrivateKey(createPrivateKey(config.keyPem))) {
    throw new Error(`${where}: its client key does not match its client certificate`);
  }
  return config;
}
