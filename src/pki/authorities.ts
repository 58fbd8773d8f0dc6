/**
 * The CAs and the service-account key: made once, then only ever loaded. A
 * half-present CA (certificate without key, or a key that does not match) is
 * refused with what to do, never silently replaced.
 */
import { join } from "node:path";
import { ExpectedExit } from "../core/errors.js";
import { readIfExists } from "../core/files.js";
import type { Cluster } from "../spec/defaults.js";
import { issueCa, parseCert, type Signer, signerFromPem } from "./certificate.js";
import { CAS, type CaId, CERT_MODE, ENCRYPTION_CONFIG, KEY_MODE, SA_KEY, SA_PUB } from "./inventory.js";
import { generateEncryptionConfig, generateServiceAccountKey, loadKeyPair, publicKeyDer } from "./keys.js";

/** A file the caller should write: path under pki/, content, mode. */
export interface PendingFile {
  readonly path: string;
  readonly content: string;
  readonly mode: number;
  readonly reason: string;
}

const rotateHint =
  "restore the file from a backup of the state directory, or replace the CAs with `kubeha certs rotate --ca` (every host then needs new certificates)";

/** Loads one CA, or undefined when neither file exists. */
export async function loadCa(pkiDir: string, id: CaId): Promise<Signer | undefined> {
  const files = CAS[id];
  const certPem = readIfExists(join(pkiDir, files.cert));
  const keyPem = readIfExists(join(pkiDir, files.key));
  if (certPem === undefined && keyPem === undefined) return undefined;
  if (certPem === undefined || keyPem === undefined) {
    const lost = certPem === undefined ? files.cert : files.key;
    throw new ExpectedExit(
      `pki/${lost} is missing while its pair exists: kubeha will not replace a CA silently`,
      {
        code: "CA_INCOMPLETE",
        hint: rotateHint,
      },
    );
  }
  try {
    const info = parseCert(certPem);
    if (!info.isCa) throw new Error("it is not a CA certificate");
    if (!publicKeyDer(keyPem).equals(info.publicKeyDer))
      throw new Error(`${files.key} does not match ${files.cert}`);
    return { cert: info.cert, certPem, key: await loadKeyPair(keyPem) };
  } catch (cause) {
    throw new ExpectedExit(`pki/${files.cert} cannot be used: ${(cause as Error).message}`, {
      code: "CA_INVALID",
      hint: rotateHint,
      cause,
    });
  }
}

/** Loads every CA; makes the missing ones (and the SA key) when `create` is set, listing the files to write. */
export async function ensureAuthorities(
  pkiDir: string,
  cluster: Cluster,
  create: boolean,
): Promise<{ cas: Record<CaId, Signer>; pending: PendingFile[] }> {
  const pending: PendingFile[] = [];
  const cas = {} as Record<CaId, Signer>;
  for (const id of Object.keys(CAS) as CaId[]) {
    const existing = await loadCa(pkiDir, id);
    if (existing) {
      cas[id] = existing;
      continue;
    }
    if (!create)
      throw new ExpectedExit(`pki/${CAS[id].cert} does not exist`, {
        hint: "run `kubeha pki generate` first",
      });
    const issued = await issueCa(CAS[id].cn, cluster.pki.keyAlgorithm, cluster.pki.caValidityDays);
    pending.push({ path: CAS[id].cert, content: issued.cert, mode: CERT_MODE, reason: "new CA" });
    pending.push({ path: CAS[id].key, content: issued.key, mode: KEY_MODE, reason: "new CA" });
    cas[id] = await signerFromPem(issued.cert, issued.key);
  }

  const saKey = readIfExists(join(pkiDir, SA_KEY));
  const saPub = readIfExists(join(pkiDir, SA_PUB));
  if (saKey === undefined && saPub === undefined) {
    if (!create)
      throw new ExpectedExit(`pki/${SA_KEY} does not exist`, { hint: "run `kubeha pki generate` first" });
    const sa = await generateServiceAccountKey(cluster.pki.keyAlgorithm);
    pending.push({ path: SA_KEY, content: sa.key, mode: KEY_MODE, reason: "new service-account key" });
    pending.push({ path: SA_PUB, content: sa.pub, mode: CERT_MODE, reason: "new service-account key" });
  } else if (saKey === undefined || saPub === undefined) {
    throw new ExpectedExit(`pki/${saKey === undefined ? SA_KEY : SA_PUB} is missing while its pair exists`, {
      code: "SA_INCOMPLETE",
      hint: "restore it from a backup of the state directory, or replace it with `kubeha certs rotate --ca`",
    });
  }
  if (readIfExists(join(pkiDir, ENCRYPTION_CONFIG)) === undefined) {
    if (!create) {
      throw new ExpectedExit(`pki/${ENCRYPTION_CONFIG} does not exist`, {
        hint: "run `kubeha pki generate` first; if the cluster already stores Secrets, restore the file from a backup of the state directory",
      });
    }
    pending.push({
      path: ENCRYPTION_CONFIG,
      content: generateEncryptionConfig(),
      mode: KEY_MODE,
      reason: "new key for Secrets at rest",
    });
  }
  return { cas, pending };
}
