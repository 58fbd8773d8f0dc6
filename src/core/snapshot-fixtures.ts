/**
 * Snapshot tests for rendered files (Node 20's test runner has none): the
 * expected text lives in a `__snapshots__` folder beside the test's source,
 * committed and reviewed like code. A missing or different snapshot fails;
 * `UPDATE_SNAPSHOTS=1 npm test` rewrites them after a deliberate change.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { packageRoot } from "./package-info.js";

/** Asserts that `actual` equals the snapshot `name` under src/`folder`/__snapshots__/. */
export function matchSnapshot(folder: string, name: string, actual: string): void {
  const dir = fileURLToPath(new URL(`src/${folder}/__snapshots__/`, packageRoot));
  const file = join(dir, name);
  if (process.env.UPDATE_SNAPSHOTS === "1") {
    mkdirSync(dir, { recursive: true });
    writeFileSync(file, actual);
    return;
  }
  assert.ok(existsSync(file), `no snapshot ${file}: run the tests with UPDATE_SNAPSHOTS=1 and review it`);
  assert.equal(
    actual,
    readFileSync(file, "utf8"),
    `${name} differs from its snapshot (UPDATE_SNAPSHOTS=1 rewrites it)`,
  );
}
