/** What kubeha learns about a host before changing anything, in one round trip (two when a digest record is stale). */
import { ETCD_CLUSTER_MARKER, ETCD_DATA_DIR, PENDING_DIR } from "../core/host-paths.js";
import { shq } from "../core/shell.js";
import type { Transport } from "../transport/transport.js";
import { must, type RemoteFile, readStats, statScript } from "./remote.js";

/** Whether a systemd unit runs and starts at boot. */
export interface UnitState {
  readonly active: boolean;
  readonly enabled: boolean;
}

/** Facts about one host. */
export interface HostFacts {
  readonly osId: string;
  readonly osCodename: string;
  readonly arch: string;
  readonly systemd: boolean;
  /** The installed etcd's version ("3.4.23"), when there is one. */
  readonly etcdVersion?: string;
  /** Whether the etcd data directory holds a member. */
  readonly etcdHasData: boolean;
  /** The cluster the data belongs to, from its marker file. */
  readonly etcdClusterMarker: string | null;
  readonly files: ReadonlyMap<string, RemoteFile>;
  /** Service actions a previous, interrupted run still owes (see markPending). */
  readonly pending: readonly string[];
  /** Debian packages the VIP manager needs that the host lacks (ip, iputils arping, stdbuf). */
  readonly missingVipPackages: readonly string[];
  /** The state of each unit asked about. */
  readonly units: ReadonlyMap<string, UnitState>;
  /** Of the packages asked about: those installed, and those missing that apt can install. */
  readonly packages: { readonly installed: readonly string[]; readonly installable: readonly string[] };
  /** What a node needs of the kernel and the host (phases/node-preflight.ts judges it). */
  readonly node: {
    /** KiB of swap in use as a swap area (sizes of /proc/swaps). */
    readonly swapKiB: number;
    /** overlayfs and bridge netfilter: there, or loadable with modprobe. */
    readonly overlay: boolean;
    readonly brNetfilter: boolean;
    /** synced (NTP says so), container (the clock is the machine's), or unsynced. */
    readonly clock: "synced" | "container" | "unsynced";
  };
}

const script = (units: readonly string[], packages: readonly string[]) => `. /etc/os-release 2>/dev/null
echo "os=$ID"
echo "codename=$VERSION_CODENAME"
echo "arch=$(uname -m)"
echo "systemd=$([ -d /run/systemd/system ] && echo yes || echo no)"
echo "etcdversion=$(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')"
echo "data=$([ -d ${ETCD_DATA_DIR}/member ] && echo yes || echo no)"
echo "marker=$(cat ${ETCD_CLUSTER_MARKER} 2>/dev/null)"
echo "pending=$(ls ${PENDING_DIR} 2>/dev/null | tr '\\n' ' ')"
echo "vipmissing=$(command -v ip >/dev/null || printf 'iproute2 '; arping -V 2>&1 | grep -q iputils || printf 'iputils-arping '; command -v stdbuf >/dev/null || printf coreutils)"
systemctl show -p Id,ActiveState,UnitFileState -- ${units.map(shq).join(" ")} | sed 's/^/unit./'
${packageLines(packages)}
echo "swap=$(awk 'NR > 1 { s += $3 } END { print s + 0 }' /proc/swaps 2>/dev/null)"
echo "overlay=$(grep -qw overlay /proc/filesystems || modprobe -n -q overlay 2>/dev/null && echo yes || echo no)"
echo "brnf=$([ -e /proc/sys/net/bridge/bridge-nf-call-iptables ] || modprobe -n -q br_netfilter 2>/dev/null && echo yes || echo no)"
echo "clock=$(if [ "$(timedatectl show -p NTPSynchronized --value 2>/dev/null)" = yes ]; then echo synced; elif systemd-detect-virt -c -q 2>/dev/null; then echo container; else echo unsynced; fi)"
echo ${FILES_MARK}`;

/** Which of `packages` are installed, and which missing ones apt can install. */
function packageLines(packages: readonly string[]): string {
  if (packages.length === 0) return "echo installed=; echo installable=";
  const list = packages.map(shq).join(" ");
  return [
    `echo "installed=$(dpkg-query -W -f='\${Package} \${db:Status-Status}\\n' ${list} 2>/dev/null | awk '$2 == "installed" { printf "%s ", $1 }')"`,
    `echo "installable=$(for p in ${list}; do if ! dpkg-query -W -f='\${db:Status-Status}' $p 2>/dev/null | grep -qx installed && apt-cache show $p >/dev/null 2>&1; then printf '%s ' $p; fi; done)"`,
  ].join("\n");
}

/** Where the facts end and the state of the files begins. */
const FILES_MARK = "--files--";

/** The units' states from `systemctl show`'s blocks (unit.Id=, unit.ActiveState=, unit.UnitFileState=). */
function unitStates(lines: readonly string[]): Map<string, UnitState> {
  const states = new Map<string, { active: boolean; enabled: boolean }>();
  let current: { active: boolean; enabled: boolean } | undefined;
  for (const line of lines) {
    const [key, value = ""] = line.split("=", 2);
    if (key === "unit.Id") {
      current = { active: false, enabled: false };
      states.set(value.replace(/\.service$/, ""), current);
    } else if (key === "unit.ActiveState" && current) current.active = value === "active";
    else if (key === "unit.UnitFileState" && current) current.enabled = value === "enabled";
  }
  return states;
}

/** Gathers the facts of a host, with the state of `units` and of the files at `paths` (see statFiles for `verify`). */
export async function gatherFacts(
  t: Transport,
  units: readonly string[],
  paths: readonly string[],
  opts: { verify?: boolean; packages?: readonly string[] } = {},
): Promise<HostFacts> {
  const out = await must(t, `${script(units, opts.packages ?? [])}\n${statScript(paths, opts)}`);
  const mark = out.indexOf(`${FILES_MARK}\n`);
  const lines = (mark < 0 ? out : out.slice(0, mark)).split("\n");
  const kv = Object.fromEntries(
    lines
      .filter((l) => l.includes("="))
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1).trim()]),
  );
  const states = unitStates(lines);
  return {
    osId: kv.os ?? "",
    osCodename: kv.codename ?? "",
    arch: kv.arch ?? "",
    systemd: kv.systemd === "yes",
    ...(kv.etcdversion && { etcdVersion: kv.etcdversion }),
    etcdHasData: kv.data === "yes",
    etcdClusterMarker: kv.marker || null,
    pending: (kv.pending ?? "").split(" ").filter(Boolean),
    missingVipPackages: (kv.vipmissing ?? "").split(" ").filter(Boolean),
    files: await readStats(t, paths, mark < 0 ? "" : out.slice(mark + FILES_MARK.length + 1)),
    units: new Map(units.map((u) => [u, states.get(u) ?? { active: false, enabled: false }])),
    packages: {
      installed: (kv.installed ?? "").split(" ").filter(Boolean),
      installable: (kv.installable ?? "").split(" ").filter(Boolean),
    },
    node: {
      swapKiB: Number(kv.swap ?? 0) || 0,
      overlay: kv.overlay === "yes",
      brNetfilter: kv.brnf === "yes",
      clock: kv.clock === "synced" || kv.clock === "container" ? kv.clock : "unsynced",
    },
  };
}

/** The state of `unit` in `facts` (inactive and disabled when unknown). */
export const unitState = (facts: HostFacts | undefined, unit: string): UnitState =>
  facts?.units.get(unit) ?? { active: false, enabled: false };
