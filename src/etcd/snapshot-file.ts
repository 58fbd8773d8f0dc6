/**
 * An etcd snapshot on the operator's machine: `NAME.db` as etcd streamed it,
 * `NAME.manifest.json` beside it (what it is, where it came from, how to
 * check it), and `NAME.pki.enc`, the sealed PKI bundle (pki/bundle.ts).
 * etcd ends a streamed snapshot with the SHA-256 of the database before it
 * (the size is then 32 past a multiple of 512, which is how etcd's own
 * restore recognises it); `checkEtcdHash` is that check, so a snapshot is
 * verified here without etcd, before a restore stops anything.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join } from "node:path";
import { ExpectedExit } from "../core/errors.js";

/** What the manifest says about a snapshot. */
export interface SnapshotManifest {
  readonly format: "kubeha-etcd-snapshot/1";
  readonly cluster: string;
  readonly takenAt: string;
  /** The member it was streamed from. */
  readonly takenFrom: string;
  readonly file: string;
  readonly size: number;
  readonly sha256: string;
  /** etcd's own check: the SHA-256 trailer matched. */
  readonly etcdHashChecked: true;
  /** From `snapshot status`: etcd's hash of the database, its revision and keys. */
  readonly etcdHash: number;
  readonly revision: number;
  readonly totalKeys: number;
  readonly totalSize: number;
  /** Decimal cluster id. */
  readonly clusterId: string;
  readonly members: readonly { name: string; peerUrls: readonly string[]; clientUrls: readonly string[] }[];
  /** The spec file's SHA-256 when the snapshot was taken. */
  readonly specSha256: string;
  /** The etcd CA's fingerprint: the cluster marker (pki/fingerprint.ts). */
  readonly etcdCa: string;
  readonly versions: { readonly etcd: string; readonly kubeha: string; readonly kubernetes: string };
  /** The sealed PKI bundle beside it, when one was written. */
  readonly pkiBundle?: string;
}

const DB = ".db";
export const manifestPathOf = (db: string) => `${db.slice(0, -DB.length)}.manifest.json`;
export const bundlePathOf = (db: string) => `${db.slice(0, -DB.length)}.pki.enc`;

/** Whether `db` ends with etcd's SHA-256 trailer and the trailer matches; why not otherwise. */
export function checkEtcdHash(db: Buffer): string | undefined {
  if (db.length % 512 !== 32)
    return `its size (${db.length} bytes) is not that of a snapshot etcd streamed (a multiple of 512 plus its 32-byte hash)`;
  const body = db.subarray(0, db.length - 32);
  const want = db.subarray(db.length - 32).toString("hex");
  if (createHash("sha256").update(body).digest("hex") !== want)
    return "its content does not match the SHA-256 etcd wrote at its end (the file is damaged)";
  return undefined;
}

/** A snapshot checked against etcd's hash and, when it has one, its manifest. */
export interface VerifiedSnapshot {
  readonly path: string;
  readonly db: Buffer;
  readonly sha256: string;
  readonly manifest?: SnapshotManifest;
}

/**
 * Reads and checks the snapshot at `path` (a `.db` file): etcd's hash, and the
 * manifest's size and SHA-256 when a manifest lies beside it. A failed check
 * is an ExpectedExit naming what is wrong.
 */
export function verifySnapshot(path: string): VerifiedSnapshot {
  const refuse = (why: string, hint: string) =>
    new ExpectedExit(`the snapshot ${path} is not usable: ${why}`, { code: "SNAPSHOT_INVALID", hint });
  if (!path.endsWith(DB))
    throw refuse("a snapshot file ends in .db", "give the .db file `kubeha etcd snapshot save` wrote");
  if (!existsSync(path))
    throw refuse("there is no such file", "check the path; `kubeha etcd snapshot list` shows the saved ones");
  const db = readFileSync(path);
  const why = checkEtcdHash(db);
  if (why) throw refuse(why, "use another snapshot; nothing was changed");
  const sha = createHash("sha256").update(db).digest("hex");
  const mpath = manifestPathOf(path);
  if (!existsSync(mpath)) return { path, db, sha256: sha };
  const manifest = JSON.parse(readFileSync(mpath, "utf8")) as SnapshotManifest;
  if (manifest.format !== "kubeha-etcd-snapshot/1")
    throw refuse(
      `${basename(mpath)} is not a kubeha snapshot manifest`,
      "remove it, or give the snapshot it belongs to",
    );
  if (manifest.size !== db.length || manifest.sha256 !== sha)
    throw refuse(
      `its SHA-256 ${sha.slice(0, 16)}… (${db.length} bytes) is not the manifest's ${manifest.sha256.slice(0, 16)}… (${manifest.size} bytes)`,
      "the snapshot and its manifest do not belong together, or the snapshot changed; use another snapshot",
    );
  return { path, db, sha256: sha, manifest };
}

/** The snapshots (`*.db`) in `dir`, newest first, with their manifests where they have one. */
export function listSnapshots(
  dir: string,
): { path: string; size: number; mtime: Date; manifest?: SnapshotManifest }[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(DB))
    .map((f) => {
      const path = join(dir, f);
      const st = statSync(path);
      const mpath = manifestPathOf(path);
      let manifest: SnapshotManifest | undefined;
      try {
        manifest = existsSync(mpath)
          ? (JSON.parse(readFileSync(mpath, "utf8")) as SnapshotManifest)
          : undefined;
      } catch {
        manifest = undefined;
      }
      return { path, size: st.size, mtime: st.mtime, ...(manifest && { manifest }) };
    })
    .sort((a, b) => b.mtime.getTime() - a.mtime.getTime());
}

/** A time as snapshot and directory names carry it: 20261202T160345Z. */
export const compactTime = (at: Date) =>
  at
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");

/** The base name of a snapshot taken at `at` of `cluster`: `NAME-20261202T160345Z`. */
export const snapshotName = (cluster: string, at: Date) => `${cluster}-${compactTime(at)}`;

/** The directory snapshots go to by default: `<state>/snapshots`. */
export const defaultSnapshotDir = (stateDir: string) => join(stateDir, "snapshots");
