/**
 * The add-ons: their objects against the Kubernetes v1.34 OpenAPI schema,
 * what they promise (DNS address, pod network, spread, an ingress
 * controller on the edges' own network and nothing published through
 * kube-proxy), and server-side
 * apply with the official client against a scripted API (discovery, apply
 * patches, rollout status); the lab has no API that could run them.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { scratch } from "../pki/pki-fixtures.js";
import { INGRESS_PING_PORT, INGRESS_PING_URL } from "../render/ingress.js";
import { EDGE_TAINT, nodeLabels, nodeTaints, ROLE_LABEL_PREFIX } from "../render/node.js";
import { INGRESS_ACCEPT_GRACE_S } from "../render/timing.js";
import type { Cluster } from "../spec/defaults.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import { applyAddon, objectApi, rolledOut, waitRolledOut } from "./apply.js";
import { ADDON_IMAGES, addons, validateObject } from "./objects.js";

const spec = baseSpec();
spec.spec.network.podCidr = "10.244.0.0/16";
spec.spec.network.serviceCidr = "10.96.0.0/12";
const cluster = loadObject(spec).cluster;
const find = (kind: string, name: string) =>
  addons(cluster)
    .flatMap((a) => a.objects)
    .find((o) => o.kind === kind && o.metadata?.name === name)
    ?.toJSON() as Record<string, any>;

describe("add-ons", () => {
  it("are objects the v1.34 OpenAPI schema accepts, with pinned images", () => {
    const all = addons(cluster);
    assert.deepEqual(
      all.map((a) => a.name),
      ["rbac", "pod-network", "coredns", "ingress-controller"],
    );
    for (const o of all.flatMap((a) => a.objects))
      assert.doesNotThrow(() => o.validate(), `${o.kind} ${o.metadata?.name}`);
    for (const image of Object.values(ADDON_IMAGES)) assert.match(image, /:v\d+\.\d+\.\d+/);
  });

  it("refuses an object the schema does not accept, naming the object and the field", () => {
    const broken = new Deployment({
      metadata: { name: "broken", namespace: "kube-system" },
      spec: {
        selector: { matchLabels: { a: "b" } },
        template: {
          metadata: { labels: { a: "b" } },
          spec: {
            containers: [{ name: "c", image: "i", ports: [{ containerPort: "53" as unknown as number }] }],
          },
        },
      },
    });
    assert.throws(
      () => validateObject(broken),
      /Deployment kube-system\/broken: .*containers\/0\/ports\/0\/containerPort must be integer/,
    );
  });

  it("puts DNS at the kubelets' cluster DNS address, two CoreDNS replicas never on one host, flannel over the pod CIDR", () => {
    assert.equal(find("Service", "kube-dns").spec.clusterIP, "10.96.0.10");
    const dns = find("Deployment", "coredns");
    assert.equal(dns.spec.replicas, 2);
    assert.equal(
      dns.spec.template.spec.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0]
        .topologyKey,
      "kubernetes.io/hostname",
    );
    assert.equal(find("PodDisruptionBudget", "coredns").spec.minAvailable, 1);
    const net = JSON.parse(find("ConfigMap", "kube-flannel-cfg").data["net-conf.json"]);
    assert.deepEqual(net, { Network: "10.244.0.0/16", EnableNFTables: false, Backend: { Type: "host-gw" } });
    const ds = find("DaemonSet", "kube-flannel-ds");
    assert.equal(
      ds.spec.template.spec.volumes.find((v: { name: string }) => v.name === "cni-plugin").hostPath.path,
      "/usr/lib/cni",
    );
    assert.equal(
      find("ClusterRoleBinding", "kubeha:apiserver-kubelet-api-admin").subjects[0].name,
      "kube-apiserver-kubelet-client",
    );
  });

  it("judges rollouts by generation, updated and available counts", () => {
    assert.equal(
      rolledOut("Deployment", { metadata: { generation: 2 }, status: { observedGeneration: 1 } }),
      "the controller has not seen the change yet",
    );
    assert.equal(
      rolledOut("Deployment", {
        metadata: { generation: 1 },
        spec: { replicas: 2 },
        status: { observedGeneration: 1, updatedReplicas: 2, availableReplicas: 1 },
      }),
      "1 of 2 available",
    );
    assert.equal(
      rolledOut("DaemonSet", {
        status: { desiredNumberScheduled: 7, updatedNumberScheduled: 7, numberAvailable: 7 },
      }),
      undefined,
    );
    assert.equal(rolledOut("DaemonSet", { status: { desiredNumberScheduled: 0 } }), "no node runs it yet");
  });
});

/** The cluster of baseSpec() after `edit`, loaded as a file would be. */
const clusterOf = (edit: (s: any) => void): Cluster => {
  const s = baseSpec();
  edit(s);
  return loadObject(s).cluster;
};
const objectsOf = (c: Cluster) =>
  addons(c).flatMap((a) => a.objects.map((o) => o.toJSON() as Record<string, any>));
const daemonSetOf = (c: Cluster) =>
  objectsOf(c).find((o) => o.kind === "DaemonSet" && o.metadata.name === "traefik") as Record<string, any>;
/** The value of `--<flag>=` among `args`, if given once. */
const flag = (args: string[], name: string) => {
  const found = args.filter((a) => a.startsWith(`--${name}=`));
  assert.ok(found.length <= 1, `${name} given ${found.length} times`);
  return found[0]?.slice(name.length + 3);
};
/** A duration flag's whole seconds: "10s" is 10; anything else NaN. */
const seconds = (d = "") => Number(/^(\d+)s$/.exec(d)?.[1] ?? Number.NaN);

describe("Traefik", () => {
  it("runs on the host network of the edge nodes only, tolerating their taints", () => {
    const c = clusterOf((s) => {
      s.spec.ingress.dedicatedEdges = true;
      s.spec.hosts[2].roles.push("edge"); // cp3: a controlplane host that is also an edge
    });
    const pod = daemonSetOf(c).spec.template.spec;
    assert.equal(pod.hostNetwork, true);
    assert.equal(pod.dnsPolicy, "ClusterFirstWithHostNet");
    assert.deepEqual(pod.nodeSelector, { [`${ROLE_LABEL_PREFIX}edge`]: "true" });
    const selects = (labels: Record<string, string>) =>
      Object.entries(pod.nodeSelector).every(([k, v]) => labels[k] === v);
    const tolerates = (t: { key: string; effect: string }) =>
      pod.tolerations.some(
        (x: any) => x.key === t.key && x.operator === "Exists" && (!x.effect || x.effect === t.effect),
      );
    for (const host of c.hosts) {
      const edge = host.roles.includes("edge");
      assert.equal(selects(nodeLabels(host)), edge, host.name);
      if (edge) for (const t of nodeTaints(c, host)) assert.ok(tolerates(t), `${host.name}: ${t.key}`);
    }
    const cp3 = c.hosts.find((h) => h.name === "cp3");
    assert.ok(cp3 && nodeTaints(c, cp3).some((t) => t.key === EDGE_TAINT.key), "cp3 has the edge taint too");
    assert.equal(pod.priorityClassName, "system-cluster-critical");
    assert.deepEqual(daemonSetOf(c).spec.updateStrategy.rollingUpdate.maxUnavailable, 1);
  });

  it("listens on every ingress port, as an entrypoint and as a host port", () => {
    const c = clusterOf((s) => Object.assign(s.spec.ingress, { ports: [8080, 8443] }));
    const container = daemonSetOf(c).spec.template.spec.containers[0];
    const args: string[] = container.args;
    assert.equal(flag(args, "entryPoints.web.address"), ":8080");
    assert.equal(flag(args, "entryPoints.websecure.address"), ":8443");
    assert.equal(flag(args, "entryPoints.websecure.http.tls"), "true");
    assert.equal(flag(args, "entryPoints.web.http.tls"), undefined);
    const listening = args.filter((a) => /^--entryPoints\.[^.]+\.address=:/.test(a));
    assert.equal(listening.map((a) => a.split("=:")[1]).join(), "8080,8443");
    const hostPorts = container.ports.filter((p: any) => p.name !== "ping");
    assert.equal(hostPorts.map((p: any) => `${p.containerPort}:${p.hostPort}`).join(), "8080:8080,8443:8443");
    assert.equal(flag(args, "providers.kubernetesIngress"), "true");
  });

  it("answers its ping on loopback at the agent's address, and is probed there", () => {
    const container = daemonSetOf(cluster).spec.template.spec.containers[0];
    const args: string[] = container.args;
    assert.equal(flag(args, "entryPoints.traefik.address"), `127.0.0.1:${INGRESS_PING_PORT}`);
    assert.equal(flag(args, "ping"), "true");
    assert.equal(flag(args, "ping.entryPoint"), "traefik");
    assert.equal(flag(args, "ping.terminatingStatusCode"), "503");
    for (const probe of [container.readinessProbe, container.livenessProbe]) {
      const { host, port, path } = probe.httpGet;
      assert.equal(`http://${host}:${port}${path}`, INGRESS_PING_URL);
      assert.equal(port, INGRESS_PING_PORT);
    }
  });

  it("keeps accepting for the agent's grace after its ping fails, and is given time to finish", () => {
    const c = clusterOf((s) => Object.assign(s.spec.ingress, { ports: [80, 443, 8080] }));
    const pod = daemonSetOf(c).spec.template.spec;
    const args: string[] = pod.containers[0].args;
    let longest = 0;
    for (const ep of ["web", "websecure", "web2", "traefik"]) {
      const accept = seconds(flag(args, `entryPoints.${ep}.transport.lifeCycle.requestAcceptGraceTimeout`));
      const grace = seconds(flag(args, `entryPoints.${ep}.transport.lifeCycle.graceTimeOut`));
      assert.equal(accept, INGRESS_ACCEPT_GRACE_S, ep);
      longest = Math.max(longest, accept + grace);
    }
    assert.ok(pod.terminationGracePeriodSeconds > longest + 5, `${longest} s of grace`);
  });

  it("serves the default IngressClass, with a role that only reads", () => {
    const all = objectsOf(cluster);
    const cls = all.find((o) => o.kind === "IngressClass");
    assert.equal(cls?.spec.controller, "traefik.io/ingress-controller");
    assert.equal(cls?.metadata.annotations["ingressclass.kubernetes.io/is-default-class"], "true");
    const pod = daemonSetOf(cluster).spec.template.spec;
    const args: string[] = pod.containers[0].args;
    assert.equal(flag(args, "providers.kubernetesIngress.ingressClass"), cls?.metadata.name);
    const ns = all.find((o) => o.kind === "Namespace" && o.metadata.name === "kube-ingress");
    assert.equal(ns?.metadata.labels["pod-security.kubernetes.io/enforce"], "privileged");
    const binding = all.find((o) => o.kind === "ClusterRoleBinding" && o.metadata.name === "kubeha:traefik");
    assert.deepEqual(binding?.subjects, [
      { kind: "ServiceAccount", name: pod.serviceAccountName, namespace: "kube-ingress" },
    ]);
    const role = all.find((o) => o.kind === "ClusterRole" && o.metadata.name === binding?.roleRef.name);
    const verbs = new Set(role?.rules.flatMap((r: any) => r.verbs));
    assert.deepEqual([...verbs].sort(), ["list", "watch"]);
    const resources = role?.rules.flatMap((r: any) => r.resources).sort();
    assert.equal(resources.join(" "), "endpointslices ingressclasses ingresses nodes secrets services");
    const traefik = addons(cluster).at(-1);
    assert.deepEqual(traefik?.rollouts, [{ kind: "DaemonSet", namespace: "kube-ingress", name: "traefik" }]);
  });

  it("publishes nothing through kube-proxy: no add-on object has externalIPs or is a LoadBalancer Service", () => {
    const all = objectsOf(clusterOf((s) => Object.assign(s.spec.ingress, { dedicatedEdges: true })));
    for (const o of all)
      assert.doesNotMatch(JSON.stringify(o), /"externalIPs"/, `${o.kind} ${o.metadata.name}`);
    const balancers = all.filter((o) => o.kind === "Service" && o.spec?.type === "LoadBalancer");
    assert.deepEqual(balancers, []);
    assert.ok(all.some((o) => o.kind === "DaemonSet" && o.metadata.name === "traefik"));
  });

  it("is left out of a cluster without an ingress section or without an edge host", () => {
    const none = clusterOf((s) => {
      delete s.spec.ingress;
      for (const h of s.spec.hosts) h.roles = h.roles.filter((r: string) => r !== "edge");
    });
    assert.equal(none.ingress, undefined);
    const names = addons(none).map((a) => a.name);
    assert.deepEqual(names, ["rbac", "pod-network", "coredns"]);
    const noEdges: Cluster = {
      ...cluster,
      hosts: cluster.hosts.map((h) => ({ ...h, roles: h.roles.filter((r) => r !== "edge") })),
    };
    assert.ok(noEdges.ingress);
    assert.ok(!addons(noEdges).some((a) => a.name === "ingress-controller"));
  });
});

/** A scripted API: discovery for the add-ons' kinds, objects kept by path, controllers that finish at once. */
function fakeApi() {
  const objects = new Map<string, Record<string, any>>();
  const applies: { path: string; query: string; contentType: string }[] = [];
  let rv = 100;
  const groups: Record<string, { name: string; kind: string; namespaced: boolean }[]> = {
    "/api/v1": [
      { name: "namespaces", kind: "Namespace", namespaced: false },
      { name: "serviceaccounts", kind: "ServiceAccount", namespaced: true },
      { name: "configmaps", kind: "ConfigMap", namespaced: true },
      { name: "services", kind: "Service", namespaced: true },
    ],
    "/apis/apps/v1": [
      { name: "daemonsets", kind: "DaemonSet", namespaced: true },
      { name: "deployments", kind: "Deployment", namespaced: true },
    ],
    "/apis/rbac.authorization.k8s.io/v1": [
      { name: "clusterroles", kind: "ClusterRole", namespaced: false },
      { name: "clusterrolebindings", kind: "ClusterRoleBinding", namespaced: false },
    ],
    "/apis/policy/v1": [{ name: "poddisruptionbudgets", kind: "PodDisruptionBudget", namespaced: true }],
    "/apis/networking.k8s.io/v1": [{ name: "ingressclasses", kind: "IngressClass", namespaced: false }],
  };
  const body = (req: IncomingMessage) =>
    new Promise<string>((resolve) => {
      let t = "";
      req.on("data", (d) => (t += d));
      req.on("end", () => resolve(t));
    });
  const server = createServer(async (req, res) => {
    const [path = "", query = ""] = (req.url ?? "").split("?");
    const json = (code: number, o: unknown) =>
      res.writeHead(code, { "content-type": "application/json" }).end(JSON.stringify(o));
    const group = groups[path];
    if (req.method === "GET" && group)
      return json(200, {
        kind: "APIResourceList",
        groupVersion: path.replace(/^\/apis?\//, ""),
        resources: group.map((r) => ({ ...r, singularName: "", verbs: ["get", "patch"] })),
      });
    if (req.method === "GET") {
      const o = objects.get(path);
      return o ? json(200, o) : json(404, { kind: "Status", code: 404, reason: "NotFound" });
    }
    if (req.method === "PATCH") {
      applies.push({ path, query, contentType: String(req.headers["content-type"]) });
      const sent = JSON.parse(await body(req));
      const old = objects.get(path);
      const same =
        old &&
        JSON.stringify({
          ...old,
          metadata: { ...old.metadata, resourceVersion: undefined, generation: undefined },
          status: undefined,
        }) ===
          JSON.stringify({
            ...sent,
            metadata: { ...sent.metadata, resourceVersion: undefined, generation: undefined },
            status: undefined,
          });
      const generation = same ? old.metadata.generation : (old?.metadata.generation ?? 0) + 1;
      const stored = {
        ...sent,
        metadata: {
          ...sent.metadata,
          generation,
          resourceVersion: same ? old.metadata.resourceVersion : String(++rv),
        },
        // controllers that roll out at once
        ...(sent.kind === "DaemonSet" && {
          status: {
            observedGeneration: generation,
            desiredNumberScheduled: 7,
            updatedNumberScheduled: 7,
            numberAvailable: 7,
          },
        }),
        ...(sent.kind === "Deployment" && {
          status: { observedGeneration: generation, replicas: 2, updatedReplicas: 2, availableReplicas: 2 },
        }),
      };
      objects.set(path, stored);
      return json(old ? 200 : 201, stored);
    }
    return json(405, {});
  });
  return { server, objects, applies };
}

describe("add-ons applied with server-side apply", () => {
  const dir = scratch("addons-apply");
  const api = fakeApi();
  let kubeconfig = "";
  before(async () => {
    await new Promise<void>((r) => api.server.listen(0, "127.0.0.1", r));
    const port = (api.server.address() as AddressInfo).port;
    kubeconfig = join(dir, "admin.conf");
    writeFileSync(
      kubeconfig,
      `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: http://127.0.0.1:${port}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user: {}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n`,
    );
  });
  after(() => api.server.close());

  it("applies every object as kubeha's field manager, waits for rollouts, and reports nothing changed on a re-run", async () => {
    const client = await objectApi(kubeconfig);
    const list = addons(cluster);
    const first = [];
    for (const addon of list) {
      first.push(...(await applyAddon(client, addon)));
      assert.equal(await waitRolledOut(client, addon, 5000, 10), undefined);
    }
    assert.equal(first.length, list.flatMap((a) => a.objects).length);
    assert.ok(first.every((a) => a.created && a.changed));
    assert.ok(
      api.applies.every((a) => a.contentType === "application/apply-patch+yaml"),
      JSON.stringify(api.applies[0]),
    );
    assert.ok(api.applies.every((a) => /fieldManager=kubeha/.test(a.query) && /force=true/.test(a.query)));
    assert.ok(api.objects.has("/apis/apps/v1/namespaces/kube-system/deployments/coredns"));
    assert.ok(api.objects.has("/apis/apps/v1/namespaces/kube-flannel/daemonsets/kube-flannel-ds"));
    assert.ok(api.objects.has("/apis/apps/v1/namespaces/kube-ingress/daemonsets/traefik"));
    assert.ok(api.objects.has("/apis/networking.k8s.io/v1/ingressclasses/traefik"));
    const again = [];
    for (const addon of list) again.push(...(await applyAddon(client, addon)));
    assert.deepEqual(
      again.filter((a) => a.changed),
      [],
    );
  });

  it("says which rollout did not finish, and why", async () => {
    const client = await objectApi(kubeconfig);
    api.objects.set("/apis/apps/v1/namespaces/kube-system/deployments/coredns", {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "coredns", namespace: "kube-system", generation: 3 },
      spec: { replicas: 2 },
      status: { observedGeneration: 3, updatedReplicas: 2, availableReplicas: 0 },
    });
    const coredns = addons(cluster).find((a) => a.name === "coredns");
    assert.ok(coredns);
    assert.equal(
      await waitRolledOut(client, { ...coredns, objects: [] }, 50, 10),
      "Deployment kube-system/coredns: 0 of 2 available",
    );
  });
});
