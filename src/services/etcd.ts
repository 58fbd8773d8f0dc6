/**
 * etcd, one member on every host with the etcd role: HTTPS only with client
 * and peer certificate authentication (render/etcd-unit.ts). Its rollout is
 * its own (phases/start-etcd.ts, phases/etcd-members.ts): a new cluster
 * starts together, newcomers join as learners, and a restart waits for the
 * whole quorum to be healthy before the next.
 */
import {
  HostPki,
  PACKAGED_ETCD,
  Unit,
  UPLOADED_ETCD,
  UPLOADED_ETCDCTL,
  UPLOADED_ETCDUTL,
  unitPath,
} from "../core/host-paths.js";
import { etcdctlCommand } from "../etcd/etcdctl.js";
import { ETCD_CLIENT_PORT, ETCD_METRICS_PORT, ETCD_PEER_PORT } from "../etcd/urls.js";
import { renderEtcdUnit } from "../render/etcd-unit.js";
import { HostList } from "../spec/host-list.js";
import type { HostService } from "./service.js";

export const etcd: HostService = {
  name: "etcd",
  hosts: (cluster) => new HostList(cluster.hosts).etcdMembers(),
  listeners: (_cluster, host) => [
    { address: host.address, port: ETCD_CLIENT_PORT, owner: "etcd client" },
    { address: "127.0.0.1", port: ETCD_CLIENT_PORT, owner: "etcd client" },
    { address: host.address, port: ETCD_PEER_PORT, owner: "etcd peer" },
    { address: "127.0.0.1", port: ETCD_METRICS_PORT, owner: "etcd metrics" },
  ],
  unit: () => Unit.etcd,
  files(cluster, host, artifacts) {
    const uploaded = artifacts.etcd;
    return [
      ...(uploaded
        ? [
            { path: UPLOADED_ETCD, content: uploaded.etcd, mode: 0o755 },
            { path: UPLOADED_ETCDCTL, content: uploaded.etcdctl, mode: 0o755, onChange: "nothing" as const },
            ...(uploaded.etcdutl
              ? [
                  {
                    path: UPLOADED_ETCDUTL,
                    content: uploaded.etcdutl,
                    mode: 0o755,
                    onChange: "nothing" as const,
                  },
                ]
              : []),
          ]
        : []),
      {
        path: unitPath(Unit.etcd),
        content: renderEtcdUnit(
          cluster,
          host,
          cluster.etcd.binaries.source === "package" ? PACKAGED_ETCD : UPLOADED_ETCD,
        ),
        mode: 0o644,
      },
    ];
  },
  certificates: () => [
    HostPki.etcdCa.cert,
    HostPki.etcdServer.cert,
    HostPki.etcdServer.key,
    HostPki.etcdPeer.cert,
    HostPki.etcdPeer.key,
  ],
  readiness: () => etcdctlCommand("endpoint health"),
  rollout: "own",
};
