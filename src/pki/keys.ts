/**
 * Key pairs for certificates, made with Node's WebCrypto and stored as PKCS#8
 * PEM (accepted by Kubernetes, etcd and OpenSSL alike).
 */
import { createPrivateKey, createPublicKey, randomBytes, webcrypto } from "node:crypto";
import type { KeyAlgorithm } from "../spec/defaults.js";

const subtle = webcrypto.subtle;
type CryptoKeyPair = webcrypto.CryptoKeyPair;
type SigningParams = webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;

/** WebCrypto algorithm parameters for each key type (signing with SHA-256). */
export function signingAlgorithm(kind: KeyAlgorithm): SigningParams {
  return kind === "ecdsa-p256"
    ? ({ name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as SigningParams)
    : { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" };
}

/** A generated or loaded key pair together with its PEM. */
export interface KeyPair {
  readonly kind: KeyAlgorithm;
  readonly keys: CryptoKeyPair;
  readonly pem: string;
}

function toPem(label: string, der: ArrayBuffer | Buffer): string {
  const b64 = Buffer.from(der as ArrayBuffer).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** Generates a new key pair of `kind`. */
export async function generateKeyPair(kind: KeyAlgorithm): Promise<KeyPair> {
  const params =
    kind === "ecdsa-p256"
      ? { name: "ECDSA", namedCurve: "P-256" }
      : {
          name: "RSASSA-PKCS1-v1_5",
          modulusLength: 2048,
          publicExponent: new Uint8Array([1, 0, 1]),
          hash: "SHA-256",
        };
  const keys = (await subtle.generateKey(params, true, ["sign", "verify"])) as CryptoKeyPair;
  const pem = toPem("PRIVATE KEY", await subtle.exportKey("pkcs8", keys.privateKey));
  return { kind, keys, pem };
}

/** The key type of a PEM private key, or undefined when it is neither of ours. */
export function keyKind(pem: string): KeyAlgorithm | undefined {
  const key = createPrivateKey(pem);
  if (key.asymmetricKeyType === "ec" && key.asymmetricKeyDetails?.namedCurve === "prime256v1")
    return "ecdsa-p256";
  if (key.asymmetricKeyType === "rsa" && key.asymmetricKeyDetails?.modulusLength === 2048) return "rsa-2048";
  return undefined;
}

/** Loads a PEM private key (any PEM form OpenSSL writes) for signing. */
export async function loadKeyPair(pem: string): Promise<KeyPair> {
  const kind = keyKind(pem);
  if (!kind) throw new Error("unsupported key type (kubeha uses ECDSA P-256 or RSA 2048)");
  const priv = createPrivateKey(pem);
  const pkcs8 = priv.export({ type: "pkcs8", format: "der" });
  const spki = createPublicKey(priv).export({ type: "spki", format: "der" });
  const alg = signingAlgorithm(kind);
  const privateKey = await subtle.importKey("pkcs8", pkcs8, alg, true, ["sign"]);
  const publicKey = await subtle.importKey("spki", spki, alg, true, ["verify"]);
  return { kind, keys: { privateKey, publicKey }, pem };
}

/** The DER SubjectPublicKeyInfo of a PEM private key, to match it against a certificate. */
export function publicKeyDer(privatePem: string): Buffer {
  return createPublicKey(createPrivateKey(privatePem)).export({ type: "spki", format: "der" });
}

/** The service-account signing key pair as PEM: private (PKCS#8) and public (SPKI). */
export async function generateServiceAccountKey(kind: KeyAlgorithm): Promise<{ key: string; pub: string }> {
  const pair = await generateKeyPair(kind);
  const pub = toPem("PUBLIC KEY", await subtle.exportKey("spki", pair.keys.publicKey));
  return { key: pair.pem, pub };
}

/**
 * The apiserver's encryption of Secrets at rest (EncryptionConfiguration):
 * secretbox (XSalsa20-Poly1305) with a new random 32-byte key, identity
 * after it so Secrets written before encryption stay readable. The file is
 * the key: kept with the PKI, never replaced by kubeha, 0600 everywhere.
 */
export function generateEncryptionConfig(now = new Date()): string {
  const secret = randomBytes(32).toString("base64");
  const name = `key-${now.toISOString().slice(0, 10).replaceAll("-", "")}`;
  return `# Written by kubeha: the key that encrypts Secrets in etcd. Losing it loses every Secret;
# back it up with the rest of the state directory's pki/.
apiVersion: apiserver.config.k8s.io/v1
kind: EncryptionConfiguration
resources:
  - resources:
      - secrets
    providers:
      - secretbox:
          keys:
            - name: ${name}
              secret: ${secret}
      - identity: {}
`;
}
