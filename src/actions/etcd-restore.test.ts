/** The restore's PKI check, before any host is reached: the snapshot's PKI from the bundle, or a refusal. */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ExpectedExit } from "../core/errors.js";
import { pkiDirOf } from "../core/state-dir.js";
import type { Connector } from "../deploy/context.js";
import { bundlePathOf, type SnapshotManifest, type VerifiedSnapshot } from "../etcd/snapshot-file.js";
import { filesUnder, sealBundle } from "../pki/bundle.js";
import { clusterMarker } from "../pki/fingerprint.js";
import { generatePki } from "../pki/generate.js";
import { scratch } from "../pki/pki-fixtures.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { restore } from "./etcd-restore.js";
import { quiet } from "./up-fixtures.js";

const PASS = "a passphrase for the test bundle";
// nothing to download: Debian's etcd and the lab's stand-ins
const spec = baseSpec();
spec.spec.etcd = { binaries: { source: "package" } };
spec.spec.kubernetes = { binaries: { source: "standin" } };
const cluster = loadObject(spec).cluster;
const options = (over: object = {}) => ({
  dryRun: false,
  concurrency: 4,
  allowMemberRemoval: false,
  specDir: ".",
  force: false,
  replacePki: false,
  ...over,
});

/** A snapshot whose manifest names the etcd CA of a PKI generated in `dir`, with that PKI sealed beside it. */
async function snapshotOf(dir: string): Promise<VerifiedSnapshot> {
  const pki = join(dir, "pki");
  await generatePki(cluster, pki);
  const path = join(dir, "s.db");
  writeFileSync(bundlePathOf(path), sealBundle(filesUnder(pki), PASS));
  return {
    path,
    db: Buffer.alloc(0),
    sha256: "0".repeat(64),
    manifest: { etcdCa: clusterMarker(pki) } as SnapshotManifest,
  };
}

describe("etcd restore: the PKI", () => {
  let reached = 0;
  const unreachable: Connector = async (host) => {
    reached++;
    throw new ExpectedExit(`cannot reach ${host.name} (the test's hosts are not there)`);
  };

  it("takes the snapshot's PKI from its bundle when the state has none", async () => {
    const dir = scratch("restore-pki");
    const snapshot = await snapshotOf(dir);
    const state = join(dir, "state");
    await assert.rejects(
      restore(cluster, state, snapshot, options({ passphrase: PASS }), quiet, unreachable),
      /cannot reach/,
    );
    assert.equal(clusterMarker(pkiDirOf(state)), snapshot.manifest?.etcdCa);
    const key = "ca.key";
    assert.deepEqual(readFileSync(join(pkiDirOf(state), key)), readFileSync(join(dir, "pki", key)));
  });

  it("refuses another cluster's PKI, and a state without one when no passphrase opens the bundle, before any host", async () => {
    const dir = scratch("restore-pki-other");
    const snapshot = await snapshotOf(dir);
    const state = join(dir, "state");
    await generatePki(cluster, pkiDirOf(state)); // a PKI of its own: another etcd CA
    reached = 0;
    await assert.rejects(
      restore(cluster, state, snapshot, options({ passphrase: PASS }), quiet, unreachable),
      (e: unknown) => {
        assert.ok(e instanceof ExpectedExit && e.code === "PKI_MISMATCH", String(e));
        assert.match(e.message, /is not the snapshot's/);
        assert.match(e.hint ?? "", /--replace-pki/);
        return true;
      },
    );
    const empty = join(dir, "empty-state");
    await assert.rejects(
      restore(cluster, empty, snapshot, options(), quiet, unreachable),
      /no passphrase was given/,
    );
    assert.equal(reached, 0, "no host was reached");
    assert.ok(!existsSync(pkiDirOf(empty)), "no PKI was made up");
  });

  it("replaces another cluster's PKI with --replace-pki, moving the old one aside", async () => {
    const dir = scratch("restore-pki-replace");
    const snapshot = await snapshotOf(dir);
    const state = join(dir, "state");
    await generatePki(cluster, pkiDirOf(state));
    const old = clusterMarker(pkiDirOf(state));
    await assert.rejects(
      restore(cluster, state, snapshot, options({ passphrase: PASS, replacePki: true }), quiet, unreachable),
      /cannot reach/,
    );
    assert.equal(clusterMarker(pkiDirOf(state)), snapshot.manifest?.etcdCa);
    const aside = readdirSync(state).find((f) => f.startsWith("pki.replaced-"));
    assert.ok(aside, "the old PKI is kept");
    assert.equal(clusterMarker(join(state, aside)), old);
  });
});
