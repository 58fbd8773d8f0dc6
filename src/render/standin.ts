/**
 * The lab's stand-ins (ARCHITECTURE §6) under the real names: a small
 * script at /usr/local/bin/kube-apiserver (and the others) that runs the host
 * executable's stand-in of that component for the spec's version, passing
 * the unit's command line on untouched, so the stand-in parses exactly what
 * the real binary would get.
 */
import { NODE_BINARY } from "../core/host-paths.js";
import { shq } from "../core/shell.js";
import type { Cluster } from "../spec/defaults.js";
import { STANDIN_VERSION_ENV } from "../standin/command-line.js";

/** The script kubeha installs as /usr/local/bin/`name` in the lab. */
export function renderStandinWrapper(cluster: Cluster, name: string): string {
  return `#!/bin/sh
# kubeha lab STAND-IN for ${name} ${cluster.kubernetes.version}: not Kubernetes.
# It parses the real binary's flags, reads the files they name and serves the real ports.
${STANDIN_VERSION_ENV}=${shq(cluster.kubernetes.version)} exec ${NODE_BINARY} ${shq(name)} "$@"
`;
}
