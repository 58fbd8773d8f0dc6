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
  readonly etcdInstalled: boolean;
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
}

const script = (units: readonly string[]) => `. /etc/os-release 2>/dev/null
echo "os=$ID"
echo "codename=$VERSION_CODENAME"
echo "arch=$(uname -m)"
echo "systemd=$([ -d /run/systemd/system ] && echo yes || echo no)"
echo "etcd=$(command -v etcd >/dev/null && echo yes || echo no)"
echo "etcdversion=$(etcd --version 2>/dev/null | sed -n 's/^etcd Version: //p')"
echo "data=$([ -d ${ETCD_DATA_DIR}/member ] && echo yes || echo no)"
echo "marker=$(cat ${ETCD_CLUSTER_MARKER} 2>/dev/null)"
echo "pending=$(ls ${PENDING_DIR} 2>/dev/null | tr '\\n' ' ')"
echo "vipmissing=$(command -v ip >/dev/null || printf 'iproute2 '; arping -V 2>&1 | grep -q iputils || printf 'iputils-arping '; command -v stdbuf >/dev/null || printf coreutils)"
systemctl show -p Id,ActiveState,UnitFileState -- ${units.map(shq).join(" ")} | sed 's/^/unit./'
echo ${FILES_MARK}`;

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
  opts: { verify?: boolean } = {},
): Promise<HostFacts> {
  const out = await must(t, `${script(units)}\n${statScript(paths, opts)}`);
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
    etcdInstalled: kv.etcd === "yes",
    ...(kv.etcdversion && { etcdVersion: kv.etcdversion }),
    etcdHasData: kv.data === "yes",
    etcdClusterMarker: kv.marker || null,
    pending: (kv.pending ?? "").split(" ").filter(Boolean),
    missingVipPackages: (kv.vipmissing ?? "").split(" ").filter(Boolean),
    files: await readStats(t, paths, mark < 0 ? "" : out.slice(mark + FILES_MARK.length + 1)),
    units: new Map(units.map((u) => [u, states.get(u) ?? { active: false, enabled: false }])),
  };
}

/** The state of `unit` in `facts` (inactive and disabled when unknown). */
export const unitState = (facts: HostFacts | undefined, unit: string): UnitState =>
  facts?.units.get(unit) ?? { active: false, enabled: false };
