/**
 * Report versions: on every controlplane host, which version of each
 * component runs and whether it is ready, as the host itself sees it (the
 * apiserver at its address, the controller manager and the scheduler on
 * 127.0.0.1, etcd's binary), so `up` ends with what the cluster now runs.
 */
import { HostPki, pkiPath } from "../core/host-paths.js";
import { httpsUrl } from "../core/ip.js";
import { shq } from "../core/shell.js";
import type { DeployContext } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";
import { CONTROLLER_MANAGER_PORT, SCHEDULER_PORT } from "../render/control-plane.js";
import { HostList } from "../spec/host-list.js";

const code = (url: string) =>
  `curl -s -m 2 -o /dev/null -w '%{http_code}' --cacert ${pkiPath(HostPki.ca.cert)} ${shq(url)}`;

export const ReportVersions: Phase<DeployContext> = {
  title: "Control plane versions and health",
  dryRun: "skip",
  async run(ctx) {
    const port = ctx.cluster.controlPlane.apiserverPort;
    const hosts = ctx.among(new HostList(ctx.cluster.hosts).controlplanes());
    await ctx.onHosts(hosts, async (host) => {
      const api = httpsUrl(host.spec.address, port);
      const script = [
        `curl -s -m 2 --cacert ${pkiPath(HostPki.ca.cert)} ${shq(`${api}/version`)}; echo`,
        `${code(`${api}/readyz`)}; echo`,
        `${code(`https://127.0.0.1:${CONTROLLER_MANAGER_PORT}/healthz`)}; echo`,
        `${code(`https://127.0.0.1:${SCHEDULER_PORT}/readyz`)}; echo`,
        `etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p'`,
      ].join("; ");
      const [version = "", ready, kcm, scheduler, etcd] = (
        await ctx.transport(host).exec(script)
      ).stdout.split("\n");
      let v: { gitVersion?: string; standin?: boolean } = {};
      try {
        v = JSON.parse(version);
      } catch {}
      const state = (c: string | undefined, word: string) =>
        c === "200" ? word : `not ${word} (${c || "no answer"})`;
      ctx.report.host(
        host.spec.name,
        [
          `kube-apiserver ${v.gitVersion ?? "?"}${v.standin ? " (STAND-IN)" : ""} ${state(ready, "ready")}`,
          `kube-controller-manager ${state(kcm, "healthy")}`,
          `kube-scheduler ${state(scheduler, "ready")}`,
          ...(host.spec.roles.includes("etcd") ? [`etcd ${etcd?.trim() || "?"}`] : []),
        ].join(", "),
      );
    });
  },
};
