/**
 * X.509 certificates with @peculiar/x509 on Node's WebCrypto: CAs, leaves
 * with the usages Kubernetes and etcd check, and a parsed view of existing
 * certificates so that re-runs can compare instead of re-issuing.
 */
import { randomBytes } from "node:crypto";
import { isIP } from "node:net";
import type { KeyAlgorithm } from "../spec/defaults.js";
import { generateKeyPair, type KeyPair, loadKeyPair } from "./keys.js";
import { x509 } from "./x509.js";

const DAY_MS = 86_400_000;
/** Certificates start a little in the past so small clock differences between hosts do not reject them. */
const BACKDATE_MS = 5 * 60_000;

/** Subject of a certificate: common name and organizations (Kubernetes groups). */
export interface Subject {
  readonly cn: string;
  readonly o: readonly string[];
}

/** Subject alternative names. */
export interface AltNames {
  readonly dns: readonly string[];
  readonly ip: readonly string[];
}

export type Usage = "server" | "client";

/** A CA with its key, ready to sign. */
export interface Signer {
  readonly cert: x509.X509Certificate;
  /** The CA certificate exactly as stored, for copies and kubeconfigs. */
  readonly certPem: string;
  readonly key: KeyPair;
}

/** What a leaf certificate must say. */
export interface LeafRequest {
  readonly subject: Subject;
  readonly names: AltNames;
  readonly usages: readonly Usage[];
}

/** A certificate and its private key, as PEM. */
export interface IssuedPem {
  readonly cert: string;
  readonly key: string;
}

function jsonName(subject: Subject): x509.JsonName {
  return [...subject.o.map((o) => ({ O: [o] })), { CN: [subject.cn] }];
}

function serial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive
  return bytes.toString("hex");
}

function signing(kind: KeyAlgorithm) {
  return kind === "ecdsa-p256"
    ? { name: "ECDSA", hash: "SHA-256" }
    : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
}

/** Issues a self-signed CA valid for `days`. */
export async function issueCa(
  cn: string,
  kind: KeyAlgorithm,
  days: number,
  now = new Date(),
): Promise<IssuedPem> {
  const key = await generateKeyPair(kind);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: jsonName({ cn, o: [] }),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    signingAlgorithm: signing(kind),
    keys: key.keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(key.keys.publicKey),
    ],
  });
  return { cert: cert.toString("pem"), key: key.pem };
}

/** Issues a leaf certificate signed by `ca`, with a fresh key of `kind`. */
export async function issueLeaf(
  req: LeafRequest,
  ca: Signer,
  kind: KeyAlgorithm,
  days: number,
  now = new Date(),
): Promise<IssuedPem> {
  const key = await generateKeyPair(kind);
  const usage =
    x509.KeyUsageFlags.digitalSignature | (kind === "rsa-2048" ? x509.KeyUsageFlags.keyEncipherment : 0);
  const ekus = req.usages.map((u) =>
    u === "server" ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
  );
  const names = [
    ...req.names.dns.map((value) => ({ type: "dns" as const, value })),
    ...req.names.ip.map((value) => ({ type: "ip" as const, value })),
  ];
  const notAfter = Math.min(now.getTime() + days * DAY_MS, ca.cert.notAfter.getTime());
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: jsonName(req.subject),
    issuer: ca.cert.subjectName.toJSON(),
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(notAfter),
    signingAlgorithm: signing(ca.key.kind),
    publicKey: key.keys.publicKey,
    signingKey: ca.key.keys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(usage, true),
      new x509.ExtendedKeyUsageExtension(ekus),
      await x509.AuthorityKeyIdentifierExtension.create(ca.key.keys.publicKey),
      ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names)] : []),
    ],
  });
  return { cert: cert.toString("pem"), key: key.pem };
}

/** What kubeha reads back from a certificate to decide whether it still fits. */
export interface CertInfo {
  readonly cert: x509.X509Certificate;
  readonly subject: Subject;
  readonly issuer: string;
  readonly names: AltNames;
  readonly usages: readonly Usage[];
  readonly isCa: boolean;
  readonly notAfter: Date;
  readonly publicKeyDer: Buffer;
}

/** Parses a PEM certificate; throws when it is not one. */
export function parseCert(pem: string): CertInfo {
  const cert = new x509.X509Certificate(pem);
  const attrs = cert.subjectName.toJSON();
  const values = (type: string) => attrs.flatMap((a) => a[type] ?? []);
  const san = cert.getExtension(x509.SubjectAlternativeNameExtension);
  const items = san?.names.toJSON() ?? [];
  const eku = cert.getExtension(x509.ExtendedKeyUsageExtension);
  const usages: Usage[] = [];
  if (eku?.usages.includes(x509.ExtendedKeyUsage.serverAuth)) usages.push("server");
  if (eku?.usages.includes(x509.ExtendedKeyUsage.clientAuth)) usages.push("client");
  return {
    cert,
    subject: { cn: values("CN")[0] ?? "", o: values("O") },
    issuer: cert.issuer,
    names: {
      dns: items.filter((n) => n.type === "dns").map((n) => n.value),
      ip: items.filter((n) => n.type === "ip").map((n) => n.value),
    },
    usages,
    isCa: cert.getExtension(x509.BasicConstraintsExtension)?.ca === true,
    notAfter: cert.notAfter,
    publicKeyDer: Buffer.from(cert.publicKey.rawData),
  };
}

/** A CA ready to sign, from its PEM certificate and key. */
export async function signerFromPem(certPem: string, keyPem: string): Promise<Signer> {
  return { cert: new x509.X509Certificate(certPem), certPem, key: await loadKeyPair(keyPem) };
}

/** Whether `leaf` carries a valid signature of `ca`. */
export async function signedBy(leaf: x509.X509Certificate, ca: x509.X509Certificate): Promise<boolean> {
  if (leaf.issuer !== ca.subject) return false;
  return leaf.verify({ publicKey: ca.publicKey, signatureOnly: true });
}

/** Splits a list of SAN strings into DNS names and IP addresses. */
export function altNames(values: Iterable<string>): AltNames {
  const all = [...new Set(values)];
  return { dns: all.filter((v) => isIP(v) === 0), ip: all.filter((v) => isIP(v) !== 0) };
}
