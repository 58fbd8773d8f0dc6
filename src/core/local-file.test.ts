/** Local files' digests: hashed once, trusted while size, modification time and inode match. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { DigestCache } from "./local-file.js";

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

describe("DigestCache", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubeha-digests-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const cacheFile = join(dir, "digests");
  const file = join(dir, "program");

  it("hashes a file once and trusts the record while the file is unchanged", () => {
    writeFileSync(file, "version one\n");
    const first = new DigestCache(cacheFile);
    const got = first.of(file);
    assert.equal(got.sha256, sha("version one\n"));
    assert.equal(got.size, 12);
    assert.equal(got.read().toString(), "version one\n");
    first.save();
    // a record that matches the file's identity is believed without reading the file:
    // forge its digest and the next run reports the forged one
    const forged = readFileSync(cacheFile, "utf8").replace(sha("version one\n"), "f".repeat(64));
    writeFileSync(cacheFile, forged);
    assert.equal(new DigestCache(cacheFile).of(file).sha256, "f".repeat(64));
  });

  it("hashes again once the file changed, and keeps only the files the last run used", () => {
    const other = join(dir, "other");
    writeFileSync(other, "x");
    const first = new DigestCache(cacheFile);
    first.of(other);
    first.save();
    assert.match(readFileSync(cacheFile, "utf8"), /\/other\t/);
    writeFileSync(file, "version two, longer\n");
    const cache = new DigestCache(cacheFile);
    assert.equal(cache.of(file).sha256, sha("version two, longer\n"));
    cache.save();
    const text = readFileSync(cacheFile, "utf8");
    assert.match(text, new RegExp(sha("version two, longer\n")));
    assert.doesNotMatch(text, /\/other\t/);
  });

  it("without a file it caches for its own lifetime only", () => {
    const cache = new DigestCache();
    assert.equal(cache.of(file).sha256, sha("version two, longer\n"));
    cache.save();
  });
});
