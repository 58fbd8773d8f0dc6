/** The JSON Schema of the spec, generated from the zod schema; committed as schema/cluster.schema.json. */
import { z } from "zod";
import { ClusterSpecSchema } from "./schema.js";

/** The file name of the committed schema under schema/. */
export const SCHEMA_FILE = "schema/cluster.schema.json";

/** The JSON Schema text, formatted as committed. */
export function clusterJsonSchema(): string {
  const schema = z.toJSONSchema(ClusterSpecSchema, { io: "input", unrepresentable: "any" });
  return `${JSON.stringify({ ...schema, title: "kubeha Cluster (kubeha/v1alpha1)" }, null, 2)}\n`;
}
