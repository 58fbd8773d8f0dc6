/** Upload files: write each file whose content or mode differs from what the host has (PKI, units). */
import type { DeployContext } from "../deploy/context.js";
import { markPending, must, sha256, writeFile } from "../deploy/remote.js";
import type { Phase } from "./phase.js";

export const UploadFiles: Phase = {
  title: "Upload certificates and configuration",
  async run(ctx: DeployContext) {
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
          // note the restart owed before the file changes, so an interrupted run still restarts next time
          if (file.restarts?.length) await markPending(ctx.transport(host), file.restarts);
          await writeFile(ctx.transport(host), file.path, file.content, file.mode);
        });
        for (const r of file.restarts ?? []) host.restart.add(r);
        if (file.path.startsWith("/etc/systemd/system/")) host.unitChanged = true;
      }
      // one reload for every unit written, before any phase starts or restarts a service
      if (host.unitChanged && !ctx.options.dryRun) await must(ctx.transport(host), "systemctl daemon-reload");
      if (same > 0) ctx.report.host(host.spec.name, `${same} files up to date`);
    });
  },
};
