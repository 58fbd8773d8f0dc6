/** Specs for tests: a valid base to mutate, and a way to load a spec object as YAML text. */
import { stringify } from "yaml";
import { loadClusterText } from "../plan/load.js";
import type { LoadedSpec } from "./load.js";

/** A valid 3+2+2 spec object; each call returns a fresh copy to mutate. */
export function baseSpec(): any {
  return {
    apiVersion: "kubeha/v1alpha1",
    kind: "Cluster",
    metadata: { name: "test" },
    spec: {
      network: { hostCidr: "192.168.61.0/24" },
      hosts: [
        { name: "cp1", address: "192.168.61.11", roles: ["controlplane", "etcd"] },
        { name: "cp2", address: "192.168.61.12", roles: ["controlplane", "etcd"] },
        { name: "cp3", address: "192.168.61.13", roles: ["controlplane", "etcd"] },
        { name: "w1", address: "192.168.61.21", roles: ["worker"] },
        { name: "w2", address: "192.168.61.22", roles: ["worker"] },
        { name: "edge1", address: "192.168.61.31", roles: ["worker", "edge"] },
        { name: "edge2", address: "192.168.61.32", roles: ["worker", "edge"] },
      ],
      controlPlane: { endpoint: { mode: "vip", vip: "192.168.61.100" } },
      ingress: { vip: "192.168.61.10" } as {
        vip?: string;
        vips?: string[];
        rebalance?: { quietSeconds: number };
      },
    },
  };
}

/** Loads a spec object through the YAML path, as a file would be. */
export function loadObject(spec: unknown): LoadedSpec {
  return loadClusterText(stringify(spec), "test.yaml");
}
