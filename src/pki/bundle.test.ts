/** The sealed PKI bundle: what goes in comes out with its modes, only with the passphrase, and only unchanged. */
import assert from "node:assert/strict";
import { mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { UsageError } from "../core/errors.js";
import { filesUnder, openBundle, sealBundle, writeFilesUnder } from "./bundle.js";
import { scratch } from "./pki-fixtures.js";

describe("PKI bundle", () => {
  const dir = scratch("bundle");
  const pki = join(dir, "pki");
  mkdirSync(join(pki, "etcd"), { recursive: true });
  writeFileSync(join(pki, "ca.key"), "-----BEGIN PRIVATE KEY-----\nsecret\n", { mode: 0o600 });
  writeFileSync(join(pki, "etcd", "ca.crt"), "-----BEGIN CERTIFICATE-----\n", { mode: 0o644 });
  const pass = "correct horse battery staple";

  it("gives back every file with its mode, and the key is not readable in the sealed bytes", () => {
    const sealed = sealBundle(filesUnder(pki), pass);
    assert.ok(!sealed.includes("secret"), "the key's text is not in the bundle");
    const out = join(dir, "out");
    writeFilesUnder(out, openBundle(sealed, pass));
    assert.equal(readFileSync(join(out, "ca.key"), "utf8"), "-----BEGIN PRIVATE KEY-----\nsecret\n");
    assert.equal(statSync(join(out, "ca.key")).mode & 0o777, 0o600);
    assert.equal(statSync(join(out, "etcd", "ca.crt")).mode & 0o777, 0o644);
  });

  it("refuses a wrong passphrase and a changed byte alike", () => {
    const sealed = sealBundle(filesUnder(pki), pass);
    assert.throws(
      () => openBundle(sealed, "not the passphrase"),
      (e: unknown) => e instanceof UsageError && /does not open/.test(e.message),
    );
    const changed = Buffer.from(sealed);
    changed[changed.length - 20] = (changed[changed.length - 20] ?? 0) ^ 1;
    assert.throws(() => openBundle(changed, pass), /does not open/);
    assert.throws(() => openBundle(Buffer.from("hello\n{}\n"), pass), /not a kubeha PKI bundle/);
  });

  it("writes nothing outside its directory", () => {
    assert.throws(
      () => writeFilesUnder(join(dir, "x"), [{ path: "../escape", mode: 0o600, data: Buffer.from("x") }]),
      /outside its directory/,
    );
  });
});
