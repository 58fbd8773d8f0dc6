import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { packageRoot } from "../core/package-info.js";
import { clusterJsonSchema, SCHEMA_FILE } from "./json-schema.js";

describe("JSON Schema", () => {
  it("is committed and up to date with the zod schema (regenerate with `npm run schema`)", () => {
    const committed = readFileSync(new URL(SCHEMA_FILE, packageRoot), "utf8");
    assert.equal(
      committed,
      clusterJsonSchema(),
      `${SCHEMA_FILE} is stale: run \`npm run schema\` and commit it`,
    );
  });

  it("describes the fields editors complete", () => {
    const schema = JSON.parse(clusterJsonSchema());
    const host = schema.properties.spec.properties.hosts.items;
    assert.deepEqual(host.required.sort(), ["address", "name", "roles"]);
    assert.deepEqual(host.properties.roles.items.enum, ["controlplane", "etcd", "worker", "edge"]);
    assert.equal(host.additionalProperties, false);
    assert.ok(typeof host.properties.address.description === "string");
  });
});
