/**
 * The etcd systemd unit for one member: HTTPS only, client and peer
 * certificate authentication, the member's own certificates, timings from the
 * spec. The flags that only matter when a member first starts (the initial
 * cluster and its state) live in a separate environment file written once, so
 * that membership changes never rewrite, and so never restart, the members
 * that are already running.
 */
import { ETCD_BOOTSTRAP_ENV, ETCD_DATA_DIR, HostPki, pkiPath } from "../core/host-paths.js";
import { clientUrl, ETCD_METRICS_PORT, LOCAL_CLIENT_URL, peerUrl } from "../etcd/urls.js";
import { type Cluster, type Host, hostIp } from "../spec/defaults.js";

/** Renders the unit for member `member` running `binary`. */
export function renderEtcdUnit(cluster: Cluster, member: Host, binary: string): string {
  const flags = [
    `--name=${member.name}`,
    `--data-dir=${ETCD_DATA_DIR}`,
    // etcd binds to addresses, never names; it is reached by the address the spec gives (a name too)
    `--listen-client-urls=${clientUrl({ address: hostIp(member) })},${LOCAL_CLIENT_URL}`,
    `--advertise-client-urls=${clientUrl(member)}`,
    `--listen-peer-urls=${peerUrl({ address: hostIp(member) })}`,
    `--initial-advertise-peer-urls=${peerUrl(member)}`,
    "--client-cert-auth=true",
    `--trusted-ca-file=${pkiPath(HostPki.etcdCa.cert)}`,
    `--cert-file=${pkiPath(HostPki.etcdServer.cert)}`,
    `--key-file=${pkiPath(HostPki.etcdServer.key)}`,
    "--peer-client-cert-auth=true",
    `--peer-trusted-ca-file=${pkiPath(HostPki.etcdCa.cert)}`,
    `--peer-cert-file=${pkiPath(HostPki.etcdPeer.cert)}`,
    `--peer-key-file=${pkiPath(HostPki.etcdPeer.key)}`,
    `--heartbeat-interval=${cluster.etcd.heartbeatMs}`,
    `--election-timeout=${cluster.etcd.electionMs}`,
    // a member that was cut off rejoins without forcing an election (the leader's leases would stall
    // for an election timeout, and every VIP holder with them); the default from etcd 3.5 on
    "--pre-vote=true",
    `--listen-metrics-urls=http://127.0.0.1:${ETCD_METRICS_PORT}`,
    "--auto-compaction-mode=periodic",
    "--auto-compaction-retention=8h",
    "--snapshot-count=10000",
  ];
  return `# Written by kubeha; changes are overwritten by \`kubeha up\`.
[Unit]
Description=etcd member ${member.name} of cluster ${cluster.name} (kubeha)
Documentation=https://etcd.io/docs/
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
EnvironmentFile=-${ETCD_BOOTSTRAP_ENV}
ExecStartPre=/bin/sh -c 'mkdir -p ${ETCD_DATA_DIR} && chmod 0700 ${ETCD_DATA_DIR}'
ExecStart=${binary} \\
  ${flags.join(" \\\n  ")}
Restart=always
RestartSec=1s
TimeoutStartSec=0
LimitNOFILE=65536

[Install]
WantedBy=multi-user.target
`;
}

/** The first-start settings: which members (name and peer URL) the cluster starts with, and whether it is new. */
export function renderBootstrapEnv(
  cluster: Cluster,
  members: readonly { name: string; url: string }[],
  state: "new" | "existing",
): string {
  return `# Read by etcd only on its first start (then its data directory rules).
ETCD_INITIAL_CLUSTER=${members.map((m) => `${m.name}=${m.url}`).join(",")}
ETCD_INITIAL_CLUSTER_STATE=${state}
ETCD_INITIAL_CLUSTER_TOKEN=kubeha-${cluster.name}
`;
}
