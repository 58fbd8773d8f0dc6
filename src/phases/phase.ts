/** A step of a deployment: a readable title and what it does to the hosts. */
import type { DeployContext } from "../deploy/context.js";

export interface Phase {
  /** Shown as the phase header: "Configure etcd". */
  readonly title: string;
  run(ctx: DeployContext): Promise<void>;
}
