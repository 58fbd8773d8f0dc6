/**
 * An etcd client on the operator's machine, for `status` and `drill`: every
 * member's client URL, authenticated with the first member's healthcheck
 * client certificate from the state directory (root role, as etcdctl on the
 * hosts uses it). Undefined when the state holds no such certificate yet.
 */
import { join } from "node:path";
import { HostPki } from "../core/host-paths.js";
import { pkiDirOf } from "../core/state-dir.js";
import { hostDir } from "../pki/inventory.js";
import type { Cluster } from "../spec/defaults.js";
import { HostList } from "../spec/host-list.js";
import { EtcdClient, type EtcdTls, readEtcdTls } from "./client.js";
import { clientUrl } from "./urls.js";

/** The TLS files of the first member's healthcheck client in the state directory, or undefined. */
export function operatorEtcdTls(cluster: Cluster, stateDir: string): EtcdTls | undefined {
  const first = new HostList(cluster.hosts).etcdMembers()[0];
  if (!first) return undefined;
  const base = join(pkiDirOf(stateDir), hostDir(first.name));
  try {
    return readEtcdTls({
      caFile: join(base, HostPki.etcdCa.cert),
      certFile: join(base, HostPki.etcdHealthcheckClient.cert),
      keyFile: join(base, HostPki.etcdHealthcheckClient.key),
    });
  } catch {
    return undefined;
  }
}

/** A client of every member (in spec order), or undefined when the state has no certificate for it. */
export function operatorEtcdClient(
  cluster: Cluster,
  stateDir: string,
  timeoutMs = 2000,
): EtcdClient | undefined {
  const tls = operatorEtcdTls(cluster, stateDir);
  const members = new HostList(cluster.hosts).etcdMembers();
  return tls && members.length > 0 ? new EtcdClient(members.map(clientUrl), tls, timeoutMs) : undefined;
}
