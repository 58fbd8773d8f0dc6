/** The text form of `kubeha plan`. */
import { formatIssue } from "../core/errors.js";
import { table } from "../core/table.js";
import type { Plan } from "./plan.js";

const hosts = (n: number) => `${n} host${n === 1 ? "" : "s"}`;

/** Renders a plan for the terminal. */
export function formatPlan(plan: Plan): string {
  const out: string[] = [];
  const ep = plan.endpoint;
  const endpoint =
    ep.mode === "vip"
      ? `VIP ${ep.vip}:${ep.port} (kubeha floats it)`
      : `external ${ep.address}:${ep.port} (your load balancer: outside this model, so the API survives only what it survives; \`kubeha status\` checks it answers)`;
  out.push(`Cluster ${plan.cluster}: ${hosts(plan.hosts.length)}, API endpoint ${endpoint}`, "");
  out.push(
    table([["HOST", "ADDRESS", "ROLES"], ...plan.hosts.map((h) => [h.name, h.address, h.roles.join(",")])]),
  );

  const t = plan.tolerance;
  const tol = (n: number, configured: boolean) =>
    configured ? `${n} ${n === 1 ? "failure" : "failures"}` : "-";
  out.push("", "FAILURE TOLERANCE");
  out.push(
    table([
      ["CAPABILITY", "RUNS ON", "NEEDS", "TOLERATES"],
      [
        "etcd quorum",
        `${t.etcd.members} members`,
        `${t.etcd.quorum} of ${t.etcd.members}`,
        tol(t.etcd.toleratesFailures, t.etcd.members > 0),
      ],
      [
        "Kubernetes API",
        `${t.apiserver.instances} apiservers`,
        "1 apiserver + etcd quorum",
        tol(t.apiserver.toleratesFailures, t.apiserver.instances > 0),
      ],
      [
        "ingress",
        t.ingress.edgeHosts > 0
          ? `${t.ingress.edgeHosts} edge hosts${t.ingress.vips > 0 ? `, ${t.ingress.vips} VIPs` : ""}`
          : "no edge hosts",
        t.ingress.vips > 0 ? "1 edge host + etcd quorum" : "1 edge host",
        tol(t.ingress.toleratesFailures, t.ingress.edgeHosts > 0),
      ],
    ]),
  );

  const ing = t.ingress;
  if (ing.vips > 0 && ing.edgeHosts > 0) {
    out.push(
      "",
      `Ingress VIPs: ${ing.vips} over ${ing.edgeHosts} edge hosts, at most ${Math.ceil(ing.vips / ing.edgeHosts)} per edge; every VIP finds a holder while 1 edge with a ready controller lives` +
        (ing.toleratesFailures > 0
          ? ` (with ${ing.toleratesFailures} lost, a surviving edge holds up to ${ing.vipsPerEdgeAtWorst} and carries their traffic).`
          : "."),
    );
  }

  out.push("", "SINGLE POINTS OF FAILURE");
  if (plan.singlePointsOfFailure.length === 0) out.push("none: losing any one host keeps every capability");
  for (const s of plan.singlePointsOfFailure)
    out.push(`- ${s.capability}: ${s.hosts.join(", ")}: ${s.reason}`);

  if (plan.findings.length > 0) {
    out.push("", "WARNINGS", ...plan.findings.map((f) => `- ${formatIssue(f)}`));
  }
  if (plan.deferred) {
    const d = plan.deferred;
    out.push(
      "",
      "DEFERRED TO `kubeha up`",
      `${hosts(d.hosts.length)} named by DNS (${d.hosts.join(", ")}); \`up\` resolves them once and then checks:`,
      ...d.checks.map((c) => `- ${c}`),
    );
  }
  if (plan.whatIf) {
    const w = plan.whatIf;
    out.push("", `WHAT IF ${w.lost.join(", ")} ${w.lost.length === 1 ? "is" : "are"} lost`);
    const word = (ok: boolean) => (ok ? "survives" : "LOST");
    out.push(
      table([
        ["CAPABILITY", "OUTCOME"],
        ["etcd quorum", word(w.survives.etcdQuorum)],
        ["Kubernetes API", word(w.survives.api)],
        ["ingress", word(w.survives.ingress)],
      ]),
    );
  }
  return `${out.join("\n")}\n`;
}
