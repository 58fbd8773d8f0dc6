/**
 * Verify nodes: every host registered as a Node, and reachable back from
 * the control plane the way the apiserver reaches kubelets (logs, exec,
 * metrics): through the API's node proxy, which connects to the kubelet at
 * its InternalIP with the apiserver's kubelet client certificate and
 * verifies the kubelet's serving certificate against the cluster CA. Asked
 * on the first controlplane host, of its own apiserver, with that same
 * client certificate; then each host's own view: the runtime's version,
 * the kubelet's and kube-proxy's health.
 */
import { HostError } from "../core/errors.js";
import { HostPki, pkiPath } from "../core/host-paths.js";
import { httpsUrl } from "../core/ip.js";
import { shq } from "../core/shell.js";
import { waitFor } from "../core/wait.js";
import type { DeployContext } from "../deploy/context.js";
import type { Phase } from "../deploy/runner.js";
import { KUBE_PROXY_HEALTHZ_PORT, KUBELET_HEALTHZ_PORT } from "../render/node.js";
import { HostList } from "../spec/host-list.js";

const VERIFY_TIMEOUT_MS = 30_000;

export const VerifyNodes: Phase<DeployContext> = {
  title: "Verify nodes",
  dryRun: "skip",
  async run(ctx) {
    const via = ctx.among(new HostList(ctx.cluster.hosts).controlplanes())[0];
    if (!via) return;
    const api = httpsUrl(via.spec.address, ctx.cluster.controlPlane.apiserverPort);
    const client = HostPki.apiserverKubeletClient;
    const curl = (path: string) =>
      `curl -s -m 3 --cacert ${pkiPath(HostPki.ca.cert)} --cert ${pkiPath(client.cert)} --key ${pkiPath(client.key)} ${shq(`${api}${path}`)}`;
    const names = ctx.hosts.map((h) => h.spec.name);
    // one line per node, all asked at once: NAME <the kubelet's /healthz through the node proxy>
    const script = `${names
      .map(
        (n) =>
          `printf '%s %s\\n' ${shq(n)} "$(${curl(`/api/v1/nodes/${n}/proxy/healthz`)} | head -c 200 | tr '\\n' ' ')" &`,
      )
      .join(" ")} wait`;
    let answers = new Map<string, string>();
    const ok = await waitFor(async () => {
      const out = (await ctx.transport(via).exec(script)).stdout;
      answers = new Map(
        out
          .split("\n")
          .filter(Boolean)
          .map((l) => [l.slice(0, l.indexOf(" ")), l.slice(l.indexOf(" ") + 1).trim()]),
      );
      return names.every((n) => answers.get(n) === "ok");
    }, VERIFY_TIMEOUT_MS);
    if (!ok) {
      const bad = names.filter((n) => answers.get(n) !== "ok");
      throw new HostError(
        via.spec.name,
        ctx.phase,
        `the apiserver on ${via.spec.name} cannot reach the kubelet of ${bad.map((n) => `${n} (${answers.get(n) || "no answer"})`).join(", ")} through its node proxy`,
        {
          hint: `journalctl -u kubelet on ${bad.join(", ")}: is the Node registered (kubectl get nodes), and does its serving certificate match its address?`,
        },
      );
    }
    ctx.report.info(
      `${names.length} nodes registered; the apiserver reaches every kubelet over mutual TLS (serving certificates verified against the cluster CA)`,
    );
    await ctx.onHosts(ctx.hosts, async (host) => {
      const code = (port: number) =>
        `curl -s -m 2 -o /dev/null -w '%{http_code}' http://127.0.0.1:${port}/healthz; echo`;
      let answer: string[] = [];
      const healthy = await waitFor(async () => {
        answer = (
          await ctx
            .transport(host)
            .exec(
              `ctr version 2>/dev/null | sed -n 's/^ *Version: *//p' | tail -1; ${code(KUBELET_HEALTHZ_PORT)}; ${code(KUBE_PROXY_HEALTHZ_PORT)}`,
            )
        ).stdout.split("\n");
        return answer[1] === "200" && answer[2] === "200";
      }, VERIFY_TIMEOUT_MS);
      const [runtime = "", kubelet, proxy] = answer;
      const state = (c: string | undefined) =>
        c === "200" ? "healthy" : `not healthy (${c || "no answer"})`;
      const line = `containerd ${runtime.trim() || "?"}, kubelet ${state(kubelet)}, kube-proxy ${state(proxy)}`;
      if (!healthy)
        throw new HostError(host.spec.name, ctx.phase, line, {
          hint: `journalctl -u kubelet -u kube-proxy on ${host.spec.name}`,
        });
      ctx.report.host(host.spec.name, line);
    });
  },
};
