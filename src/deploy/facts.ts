/** What kubeha learns about a host before changing anything, in one round trip. */
import { ETCD_CLUSTER_MARKER, ETCD_DATA_DIR } from "../render/etcd-unit.js";
import type { Transport } from "../transport/transport.js";
import { must, PENDING_DIR, type RemoteFile, statFiles } from "./remote.js";

/** Facts about one host. */
export interface HostFacts {
  readonly osId: string;
  readonly osCodename: string;
  readonly arch: string;
  readonly systemd: boolean;
  readonly etcdInstalled: boolean;
  readonly etcdActive: boolean;
  readonly etcdEnabled: boolean;
  /** Whether the etcd data directory holds a member. */
  readonly etcdHasData: boolean;
  /** The cluster the data belongs to, from its marker file. */
  readonly etcdClusterMarker: string | null;
  readonly files: ReadonlyMap<string, RemoteFile>;
  /** Restarts a previous, interrupted run still owes (see markPending). */
  readonly pending: readonly string[];
  /** Debian packages the VIP manager needs that the host lacks (ip, iputils arping, stdbuf). */
  readonly missingVipPackages: readonly string[];
  /** State of kubeha's own services. */
  readonly services: Readonly<
    Record<"kubeha-agent" | "kubeha-apiserver-standin", { active: boolean; enabled: boolean }>
  >;
}

const SCRIPT = `. /etc/os-release 2>/dev/null
echo "os=$ID"
echo "codename=$VERSION_CODENAME"
echo "arch=$(uname -m)"
echo "systemd=$([ -d /run/systemd/system ] && echo yes || echo no)"
echo "etcd=$(command -v etcd >/dev/null && echo yes || echo no)"
echo "active=$(systemctl is-active etcd 2>/dev/null)"
echo "enabled=$(systemctl is-enabled etcd 2>/dev/null)"
echo "data=$([ -d ${ETCD_DATA_DIR}/member ] && echo yes || echo no)"
echo "marker=$(cat ${ETCD_CLUSTER_MARKER} 2>/dev/null)"
echo "pending=$(ls ${PENDING_DIR} 2>/dev/null | tr '\\n' ' ')"
echo "vipmissing=$(command -v ip >/dev/null || printf 'iproute2 '; arping -V 2>&1 | grep -q iputils || printf 'iputils-arping '; command -v stdbuf >/dev/null || printf coreutils)"
for s in kubeha-agent kubeha-apiserver-standin; do echo "$s.active=$(systemctl is-active $s 2>/dev/null)"; echo "$s.enabled=$(systemctl is-enabled $s 2>/dev/null)"; done`;

/** Gathers the facts of a host, with the state of `paths`. */
export async function gatherFacts(t: Transport, paths: readonly string[]): Promise<HostFacts> {
  const kv = Object.fromEntries(
    (await must(t, SCRIPT))
      .split("\n")
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]),
  );
  return {
    osId: kv.os ?? "",
    osCodename: kv.codename ?? "",
    arch: kv.arch ?? "",
    systemd: kv.systemd === "yes",
    etcdInstalled: kv.etcd === "yes",
    etcdActive: kv.active === "active",
    etcdEnabled: kv.enabled === "enabled",
    etcdHasData: kv.data === "yes",
    etcdClusterMarker: kv.marker || null,
    pending: (kv.pending ?? "").split(" ").filter(Boolean),
    missingVipPackages: (kv.vipmissing ?? "").split(" ").filter(Boolean),
    files: await statFiles(t, paths),
    services: {
      "kubeha-agent": {
        active: kv["kubeha-agent.active"] === "active",
        enabled: kv["kubeha-agent.enabled"] === "enabled",
      },
      "kubeha-apiserver-standin": {
        active: kv["kubeha-apiserver-standin.active"] === "active",
        enabled: kv["kubeha-apiserver-standin.enabled"] === "enabled",
      },
    },
  };
}
