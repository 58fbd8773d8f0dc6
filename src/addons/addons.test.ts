/**
 * The add-ons: their objects against the Kubernetes v1.34 OpenAPI schema,
 * what they promise (DNS address, pod network, spread), and server-side
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
      ["rbac", "pod-network", "coredns"],
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
