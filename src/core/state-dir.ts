/**
 * The state directory holds what kubeha keeps between runs: the PKI, pinned
 * SSH host keys, etcd admin access. Default: `<directory of the spec>/<name>.kubeha/`, mode 0700.
 */
import { dirname, join, resolve } from "node:path";

/** The state directory for a spec file, or `override` when the user passed --state. */
export function stateDirFor(specFile: string, clusterName: string, override?: string): string {
  return override ? resolve(override) : join(dirname(resolve(specFile)), `${clusterName}.kubeha`);
}

/** The PKI directory inside a state directory. */
export const pkiDirOf = (stateDir: string) => join(stateDir, "pki");
