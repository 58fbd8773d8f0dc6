/**
 * Save the PKI: the first change a run makes, after every check has passed.
 * The files the scratch PKI has that the state directory lacks, or has with
 * other content or mode, are written there atomically; nothing is deleted.
 * From here on the phases read the state directory's PKI. The run's local
 * caches (core/line-cache.ts) are saved here too, never by a refused run.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { modeOf, readIfExists, writeFileAtomic } from "../core/files.js";
import { pkiDirOf } from "../core/state-dir.js";
import type { DeployContext } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";

export const SavePki: Phase<DeployContext> = {
  title: "Save the PKI to the state directory",
  dryRun: "skip",
  shouldRun: (ctx) => ctx.pkiDir !== pkiDirOf(ctx.stateDir),
  async run(ctx) {
    const state = pkiDirOf(ctx.stateDir);
    let written = 0;
    for (const rel of readdirSync(ctx.pkiDir, { recursive: true }).map(String).sort()) {
      const from = join(ctx.pkiDir, rel);
      const st = statSync(from);
      if (!st.isFile()) continue;
      const content = readFileSync(from);
      const mode = st.mode & 0o777;
      const to = join(state, rel);
      if (readIfExists(to) === content.toString() && modeOf(to) === mode) continue;
      writeFileAtomic(to, content, mode);
      written++;
    }
    ctx.pkiDir = state;
    for (const cache of ctx.caches) cache.save();
    ctx.report.info(
      written === 0 ? `state: ${state} is up to date` : `state: wrote ${written} PKI files to ${state}`,
    );
  },
};
