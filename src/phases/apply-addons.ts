/**
 * Apply add-ons: RBAC, the pod network, CoreDNS and the ingress controller
 * (Traefik on the edges; addons/objects.ts),
 * server-side applied through the API endpoint with the state's admin.conf,
 * each waited for until it has rolled out. Against the lab's stand-in there
 * is no workloads API and no container can run, so they are skipped, and
 * the run says so; `kubeha render` writes them for review either way.
 */
import { join } from "node:path";
import { apiApplier } from "../addons/apply.js";
import { addons } from "../addons/objects.js";
import { HostError } from "../core/errors.js";
import { API_CHANGE, type DeployContext } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";
import { ADMIN_CONF } from "../pki/inventory.js";

/** How long an add-on may take to roll out (image pulls on every node included). */
const ROLLOUT_TIMEOUT_MS = 300_000;

export const ApplyAddons: Phase<DeployContext> = {
  title: "Apply add-ons",
  async run(ctx) {
    const list = addons(ctx.cluster);
    const count = list.reduce((n, a) => n + a.objects.length, 0);
    const names = list.map((a) => a.name).join(", ");
    if (ctx.cluster.kubernetes.binaries.source === "standin") {
      ctx.report.info(
        `skipped ${count} objects (${names}): the lab's apiserver is a stand-in with no workloads API, and its nodes run no pods; \`kubeha render\` writes them (addons/)`,
      );
      return;
    }
    if (ctx.dryRun) {
      ctx.report.info(
        `would server-side apply ${count} objects (${names}) through the API and wait for them to roll out`,
      );
      return;
    }
    const admin = join(ctx.pkiDir, ADMIN_CONF);
    const api = (ctx.options.addonApplier ?? apiApplier)(admin);
    for (const addon of list) {
      try {
        for (const a of await api.apply(addon))
          if (a.changed) ctx.apiChanged(`${a.created ? "create" : "update"} ${a.object}`);
      } catch (err) {
        throw new HostError(API_CHANGE, ctx.phase, `applying ${addon.name}: ${(err as Error).message}`, {
          cause: err,
          hint: `check that this machine reaches the API endpoint: kubectl --kubeconfig ${admin} get --raw /readyz`,
        });
      }
      const why = await api.rolledOut(addon, ROLLOUT_TIMEOUT_MS);
      if (why) {
        throw new HostError(
          API_CHANGE,
          ctx.phase,
          `${addon.name} did not roll out within ${ROLLOUT_TIMEOUT_MS / 1000} s: ${why}`,
          {
            hint: `kubectl --kubeconfig ${admin} get pods -A -o wide; the nodes need to pull ${addon.name}'s images`,
          },
        );
      }
      ctx.report.info(
        `${addon.name}: ${addon.objects.length} objects applied${addon.rollouts.length > 0 ? ", rolled out" : ""}`,
      );
    }
  },
};
