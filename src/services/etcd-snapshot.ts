/**
 * Scheduled etcd snapshots (render/etcd-snapshot.ts): the timer and its
 * script on every member when the spec has `etcd.snapshots` on (the default,
 * RKE's 12 h and 6 kept); the script decides at each tick which member
 * takes it.
 */
import { ETCD_SNAPSHOT_SCRIPT, ETCD_SNAPSHOT_UNIT, SYSTEMD_UNIT_DIR } from "../core/host-paths.js";
import { renderSnapshotScript, renderSnapshotService, renderSnapshotTimer } from "../render/etcd-snapshot.js";
import { HostList } from "../spec/host-list.js";
import type { HostService } from "./service.js";

const TIMER = `${ETCD_SNAPSHOT_UNIT}.timer`;

export const etcdSnapshot: HostService = {
  name: "etcd-snapshot",
  hosts: (cluster) => (cluster.etcd.snapshots ? new HostList(cluster.hosts).etcdMembers() : []),
  listeners: () => [],
  unit: (cluster) => (cluster.etcd.snapshots ? TIMER : undefined),
  files: (cluster, host) => {
    const s = cluster.etcd.snapshots;
    if (!s) return [];
    return [
      {
        path: ETCD_SNAPSHOT_SCRIPT,
        content: renderSnapshotScript(cluster, host, s.keep),
        mode: 0o755,
        onChange: "nothing",
      },
      {
        path: `${SYSTEMD_UNIT_DIR}/${ETCD_SNAPSHOT_UNIT}.service`,
        content: renderSnapshotService(cluster),
        mode: 0o644,
        onChange: "nothing",
      },
      { path: `${SYSTEMD_UNIT_DIR}/${TIMER}`, content: renderSnapshotTimer(s.everySeconds), mode: 0o644 },
    ];
  },
  certificates: () => [],
  readiness: () => `systemctl is-active -q ${TIMER}`,
  rollout: "parallel",
};
