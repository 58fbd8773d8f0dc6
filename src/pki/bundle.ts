/**
 * The PKI bundle saved beside an etcd snapshot: every file of the state
 * directory's PKI (the CAs and their keys, the service-account keys, the
 * Secrets encryption key, every host's certificates and kubeconfigs), so that
 * a restore onto a machine that lost its state gets the very certificates the
 * snapshot's cluster trusts (RKE users restoring without the state file got
 * new ones and an unusable cluster). Sealed with a passphrase the operator
 * provides: scrypt (N 2^15, r 8, p 1) derives an AES-256-GCM key; the header
 * line carries the parameters, salt and nonce, the GCM tag follows the
 * ciphertext, and a wrong passphrase or a changed byte fails the tag.
 */
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from "node:crypto";
import { chmodSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { UsageError } from "../core/errors.js";

const MAGIC = "KUBEHA-PKI-BUNDLE/1";
const SCRYPT = { N: 1 << 15, r: 8, p: 1 } as const;
const TAG_BYTES = 16;

/** One file of the bundle, named relative to the PKI directory. */
export interface BundledFile {
  readonly path: string;
  readonly mode: number;
  readonly data: Buffer;
}

/** The shortest passphrase kubeha accepts. */
export const MIN_PASSPHRASE = 12;

const keyOf = (passphrase: string, salt: Buffer) =>
  scryptSync(passphrase, salt, 32, { ...SCRYPT, maxmem: 128 * SCRYPT.N * SCRYPT.r * 2 });

/** Encrypts `files` with `passphrase`. */
export function sealBundle(files: readonly BundledFile[], passphrase: string): Buffer {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const header = JSON.stringify({
    kdf: "scrypt",
    ...SCRYPT,
    salt: salt.toString("hex"),
    iv: iv.toString("hex"),
  });
  const plain = gzipSync(
    JSON.stringify(files.map((f) => ({ path: f.path, mode: f.mode, data: f.data.toString("base64") }))),
  );
  const cipher = createCipheriv("aes-256-gcm", keyOf(passphrase, salt), iv);
  cipher.setAAD(Buffer.from(header));
  const body = Buffer.concat([cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
  return Buffer.concat([Buffer.from(`${MAGIC}\n${header}\n`), body]);
}

/** Decrypts a bundle; a wrong passphrase or a damaged file is a UsageError saying which it may be. */
export function openBundle(sealed: Buffer, passphrase: string): BundledFile[] {
  const first = sealed.indexOf(10);
  const second = sealed.indexOf(10, first + 1);
  if (first < 0 || second < 0 || sealed.subarray(0, first).toString() !== MAGIC)
    throw new UsageError("not a kubeha PKI bundle");
  const headerText = sealed.subarray(first + 1, second).toString();
  const header = JSON.parse(headerText) as { salt: string; iv: string };
  const body = sealed.subarray(second + 1);
  const decipher = createDecipheriv(
    "aes-256-gcm",
    keyOf(passphrase, Buffer.from(header.salt, "hex")),
    Buffer.from(header.iv, "hex"),
  );
  decipher.setAAD(Buffer.from(headerText));
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  let plain: Buffer;
  try {
    plain = Buffer.concat([decipher.update(body.subarray(0, body.length - TAG_BYTES)), decipher.final()]);
  } catch {
    throw new UsageError(
      "the PKI bundle does not open with this passphrase (or it was changed since it was sealed)",
      {
        hint: "give the passphrase the snapshot was saved with (--passphrase-file or KUBEHA_SNAPSHOT_PASSPHRASE)",
      },
    );
  }
  return (JSON.parse(gunzipSync(plain).toString()) as { path: string; mode: number; data: string }[]).map(
    (f) => ({ path: f.path, mode: f.mode, data: Buffer.from(f.data, "base64") }),
  );
}

/** Every file under `dir`, named relative to it. */
export function filesUnder(dir: string): BundledFile[] {
  const out: BundledFile[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile())
        out.push({ path: relative(dir, p), mode: st.mode & 0o777, data: readFileSync(p) });
    }
  };
  walk(dir);
  return out;
}

/** Writes `files` under `dir` with their modes (directories 0700). */
export function writeFilesUnder(dir: string, files: readonly BundledFile[]): void {
  for (const f of files) {
    if (f.path.startsWith("/") || f.path.split("/").includes(".."))
      throw new UsageError(`the PKI bundle names a path outside its directory: ${f.path}`);
    const p = join(dir, f.path);
    mkdirSync(dirname(p), { recursive: true, mode: 0o700 });
    writeFileSync(p, f.data, { mode: f.mode });
    chmodSync(p, f.mode);
  }
}
