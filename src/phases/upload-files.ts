/**
 * Upload files: write each file whose content or mode differs from what the
 * host has (PKI, units, configs, binaries). The service actions a change owes
 * are recorded on the host before the file changes, so a run interrupted
 * between the write and the restart still restarts next time.
 */

import { sha256 } from "../core/hash.js";
import { SYSTEMD_UNIT_DIR } from "../core/host-paths.js";
import type { DeployContext } from "../deploy/context.js";
import { markPending, must, writeFile } from "../deploy/remote.js";
import type { Phase } from "../deploy/runner.js";

export const UploadFiles: Phase<DeployContext> = {
  title: "Upload certificates and configuration",
  async run(ctx) {
    await ctx.onHosts(ctx.hosts, async (host) => {
      let same = 0;
      for (const file of host.desired ?? []) {
        const have = host.facts?.files.get(file.path) ?? null;
        const hash = sha256(file.content);
        if (have && have.sha256 === hash && have.mode === file.mode) {
          same++;
          continue;
        }
        const why = !have
          ? "new"
          : have.sha256 !== hash
            ? "changed"
            : `mode ${have.mode.toString(8)} -> ${file.mode.toString(8)}`;
        await ctx.change(host, `write ${file.path} (${why})`, async () => {
          if (file.owes.length > 0) await markPending(ctx.transport(host), file.owes);
          await writeFile(ctx.transport(host), file.path, file.content, file.mode);
        });
        for (const action of file.owes) host.owed.add(action);
        if (file.path.startsWith(`${SYSTEMD_UNIT_DIR}/`)) host.unitChanged = true;
      }
      // one reload for every unit written, before any phase starts or restarts a service
      if (host.unitChanged && !ctx.dryRun) await must(ctx.transport(host), "systemctl daemon-reload");
      if (same > 0) ctx.report.host(host.spec.name, `${same} files up to date`);
    });
  },
};
