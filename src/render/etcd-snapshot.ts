/**
 * Scheduled etcd snapshots: a systemd timer on every member starts a script
 * that takes the snapshot only where this member is the first, in the spec's
 * order, to answer a quorum read. Every member agrees on who that is while
 * they can talk, so one host takes the snapshots at a time and copies never
 * race; when that host dies, the next one in the spec takes over at its
 * next tick. The newest `keep` are kept on that host (older ones deleted).
 */
import { ETCD_SNAPSHOT_DIR, ETCD_SNAPSHOT_SCRIPT, ETCD_SNAPSHOT_UNIT } from "../core/host-paths.js";
import { ETCDCTL_TLS } from "../etcd/etcdctl.js";
import { clientUrl, LOCAL_CLIENT_URL } from "../etcd/urls.js";
import type { Cluster, Host } from "../spec/defaults.js";

const HEADER = "# Written by kubeha; changes are overwritten by `kubeha up`.\n";

/** The script, for member `host`; the newest `keep` scheduled snapshots are kept. */
export function renderSnapshotScript(cluster: Cluster, host: Host, keep: number): string {
  const members = cluster.hosts.filter((h) => h.roles.includes("etcd"));
  return `#!/bin/sh
${HEADER}set -u
dir=${ETCD_SNAPSHOT_DIR}
self=${clientUrl(host)}
keep=${keep}
ctl() { ETCDCTL_API=3 etcdctl ${ETCDCTL_TLS} --dial-timeout=2s "$@"; }
# the first member, in the spec's order, that answers a quorum read takes the snapshot
first=
for ep in ${members.map((m) => clientUrl(m)).join(" ")}; do
  if ctl --command-timeout=3s --endpoints="$ep" endpoint health >/dev/null 2>&1; then first=$ep; break; fi
done
if [ "$first" != "$self" ]; then echo "snapshots are taken by \${first:-no healthy member}, not here"; exit 0; fi
umask 077
mkdir -p -m 0700 "$dir"
name="scheduled-$(date -u +%Y%m%dT%H%M%SZ).db"
if ! out=$(ctl --command-timeout=600s --endpoints=${LOCAL_CLIENT_URL} snapshot save "$dir/.$name" 2>&1); then
  rm -f "$dir/.$name" "$dir/.$name.part"
  echo "snapshot save failed: $out" >&2
  exit 1
fi
mv "$dir/.$name" "$dir/$name"
ls -1t "$dir"/scheduled-*.db | tail -n +$((keep + 1)) | xargs -r rm -f --
echo "saved $dir/$name ($(stat -c %s "$dir/$name") bytes); kept the newest $keep"
`;
}

/** The oneshot service the timer starts. */
export function renderSnapshotService(cluster: Cluster): string {
  return `${HEADER}[Unit]
Description=kubeha: etcd snapshot of cluster ${cluster.name} (taken on the first healthy member)
After=etcd.service

[Service]
Type=oneshot
ExecStart=${ETCD_SNAPSHOT_SCRIPT}
`;
}

/** The timer: every `everySeconds`, counted from its start and from the last run. */
export function renderSnapshotTimer(everySeconds: number): string {
  return `${HEADER}[Unit]
Description=kubeha: scheduled etcd snapshots every ${everySeconds} s

[Timer]
OnActiveSec=${everySeconds}s
OnUnitActiveSec=${everySeconds}s
AccuracySec=${Math.max(1, Math.min(60, Math.floor(everySeconds / 10)))}s
Unit=${ETCD_SNAPSHOT_UNIT}.service

[Install]
WantedBy=timers.target
`;
}
