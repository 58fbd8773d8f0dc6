/**
 * What a restore keeps and works with: its options, its record in the state
 * directory (with the cluster token, so an interrupted run carries on with
 * the same one), and the deploy context with the verified snapshot.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { DeployContext, type DeployHost, type DeployOptions } from "../deploy/context.js";
import type { VerifiedSnapshot } from "../etcd/snapshot-file.js";
import { apiserver } from "../services/control-plane.js";

/** How far a restore moves etcd's revision on, where the restore tool can (etcdutl's --bump-revision): past anything a client saw. */
export const REVISION_BUMP = 1_000_000_000;

/** A restore in progress, as the state directory records it. */
export interface RestoreRecord {
  readonly sha256: string;
  readonly token: string;
  readonly snapshot: string;
  readonly startedAt: string;
}

export const recordPath = (stateDir: string) => join(stateDir, "etcd-restore.json");

/** The restore in progress in `stateDir`, if any. */
export function restoreInProgress(stateDir: string): RestoreRecord | undefined {
  const p = recordPath(stateDir);
  return existsSync(p) ? (JSON.parse(readFileSync(p, "utf8")) as RestoreRecord) : undefined;
}

export interface RestoreOptions extends DeployOptions {
  /** Restore although a quorum answers (everything written since the snapshot is then lost). */
  readonly force: boolean;
  /** Opens the PKI bundle, when the state has no PKI (or --replace-pki). */
  readonly passphrase?: string;
  /** Replace a state PKI whose etcd CA is not the snapshot's with the bundle's (the old one is moved aside). */
  readonly replacePki: boolean;
}

/** The restore's own state: the snapshot, the token, what each step found. */
export class RestoreContext extends DeployContext {
  readonly snapshot: VerifiedSnapshot;
  readonly restore: RestoreOptions;
  record?: RestoreRecord;

  constructor(
    init: ConstructorParameters<typeof DeployContext>[0] & {
      snapshot: VerifiedSnapshot;
      restore: RestoreOptions;
    },
  ) {
    super(init);
    this.snapshot = init.snapshot;
    this.restore = init.restore;
  }

  controlPlane(): DeployHost[] {
    return this.among(apiserver.hosts(this.cluster));
  }
}
