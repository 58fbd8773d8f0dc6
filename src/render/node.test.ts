/** The node layer's files: config fields and flags checked against the v1.34 reference, DNS address, labels and taints. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { fieldProblems, flagProblems } from "../kubernetes/flags.js";
import type { Host } from "../spec/defaults.js";
import { baseSpec, loadObject } from "../spec/spec-fixtures.js";
import {
  CONTROL_PLANE_TAINT,
  clusterDnsIp,
  EDGE_TAINT,
  kubeletConfig,
  kubeletFlags,
  kubeProxyConfig,
  kubeProxyFlags,
  nodeLabels,
  nodeTaints,
  renderConfig,
  renderContainerdConfig,
} from "./node.js";

const spec = baseSpec();
spec.spec.network.serviceCidr = "10.96.0.0/12";
spec.spec.hosts[3].labels = { "example.com/rack": "r1" };
spec.spec.hosts.push({ name: "cpw", address: "192.168.61.14", roles: ["controlplane", "worker"] });
const cluster = loadObject(spec).cluster;
const host = (name: string) => cluster.hosts.find((h) => h.name === name) as Host;
const version = cluster.kubernetes.version;

describe("node files", () => {
  it("renders configs whose every field the version knows, and flags it accepts", () => {
    for (const h of cluster.hosts) {
      assert.deepEqual(fieldProblems("KubeletConfiguration", version, kubeletConfig(cluster, h)), [], h.name);
      assert.deepEqual(
        fieldProblems("KubeProxyConfiguration", version, kubeProxyConfig(cluster, h)),
        [],
        h.name,
      );
      assert.deepEqual(flagProblems("kubelet", version, kubeletFlags(cluster, h)), [], h.name);
    }
    assert.deepEqual(flagProblems("kube-proxy", version, kubeProxyFlags(cluster)), []);
  });

  it("finds unknown fields at the top level and in nested structs, as strict decoding does", () => {
    const config = {
      ...kubeletConfig(cluster, host("w1")),
      tlsCurvePreferences: ["X25519"], // v1.36's
      authentication: { x509: { clientCAFile: "/x", clientCaFile: "/typo" }, anonymous: { enabled: false } },
      featureGates: { AnyGate: true }, // a map: its keys are not fields
    };
    assert.deepEqual(fieldProblems("KubeletConfiguration", version, config).sort(), [
      'unknown field "authentication.x509.clientCaFile"',
      'unknown field "tlsCurvePreferences"',
    ]);
    assert.deepEqual(
      fieldProblems("KubeProxyConfiguration", version, {
        kind: "KubeProxyConfiguration",
        iptables: { syncPeriod: "1s", sync: 1 },
      }),
      ['unknown field "iptables.sync"'],
    );
  });

  it("points the kubelet at the cluster DNS address, its CA-signed serving certificate and containerd", () => {
    assert.equal(clusterDnsIp(cluster), "10.96.0.10");
    const text = renderConfig(kubeletConfig(cluster, host("w1")));
    const parsed = parse(text);
    assert.deepEqual(parsed.clusterDNS, ["10.96.0.10"]);
    assert.equal(parsed.authentication.anonymous.enabled, false);
    assert.equal(parsed.authorization.mode, "Webhook");
    assert.equal(parsed.readOnlyPort, 0);
    assert.equal(parsed.cgroupDriver, "systemd");
    assert.equal(parsed.tlsCertFile, "/etc/kubernetes/pki/kubelet-server.crt");
    assert.equal(parsed.address, "192.168.61.21");
    assert.equal(parsed.failSwapOn, true);
    const conf = renderContainerdConfig(cluster);
    assert.match(conf, /SystemdCgroup = true/);
    assert.match(conf, /sandbox_image = "registry\.k8s\.io\/pause:3\.10\.1"/);
    assert.match(conf, /bin_dir = "\/usr\/lib\/cni"/);
  });

  it("labels nodes by role and taints controlplane-only hosts, and edges when they are dedicated", () => {
    assert.deepEqual(nodeLabels(host("w1")), { "kubeha.io/worker": "true", "example.com/rack": "r1" });
    assert.deepEqual(nodeTaints(cluster, host("cp1")), [CONTROL_PLANE_TAINT]);
    assert.deepEqual(nodeTaints(cluster, host("cpw")), []);
    assert.deepEqual(nodeTaints(cluster, host("edge1")), []);
    const dedicated = baseSpec();
    dedicated.spec.ingress.dedicatedEdges = true;
    const c = loadObject(dedicated).cluster;
    assert.deepEqual(nodeTaints(c, c.hosts.find((h) => h.name === "edge1") as Host), [EDGE_TAINT]);
    const flags = new Map(kubeletFlags(cluster, host("edge1")));
    assert.equal(flags.get("node-labels"), "kubeha.io/worker=true,kubeha.io/edge=true");
    assert.equal(flags.get("hostname-override"), "edge1");
  });

  it("runs with swap only when the spec says how", () => {
    const s = baseSpec();
    s.spec.kubernetes = { kubelet: { swap: "LimitedSwap" } };
    const c = loadObject(s).cluster;
    const config = kubeletConfig(c, c.hosts[0] as Host);
    assert.equal(config.failSwapOn, false);
    assert.deepEqual(config.memorySwap, { swapBehavior: "LimitedSwap" });
  });
});
