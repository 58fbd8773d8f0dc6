/** Helpers for tests that deploy: a silent reporter, and `up` of a test lab's own spec. */
import { copyFileSync } from "node:fs";
import { join } from "node:path";
import { type Reporter, silentReporter } from "../deploy/context.js";
import { loadCluster } from "../plan/load.js";
import type { Cluster } from "../spec/defaults.js";
import { up } from "./up.js";

/** A reporter that prints nothing. */
export const quiet: Reporter = silentReporter;

/**
 * Copies the cluster.yaml of the lab in `labDir` to `work` and runs `up` on it,
 * with the state directory `work/state`; returns the spec file and the cluster.
 */
export async function upLab(work: string, labDir: string): Promise<{ specFile: string; cluster: Cluster }> {
  const specFile = join(work, "cluster.yaml");
  copyFileSync(join(labDir, "cluster.yaml"), specFile);
  const { cluster } = loadCluster(specFile);
  await up(
    cluster,
    join(work, "state"),
    { dryRun: false, concurrency: 10, allowMemberRemoval: false, specDir: work },
    quiet,
  );
  return { specFile, cluster };
}
