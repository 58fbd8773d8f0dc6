/**
 * The lab's L2 segment: one Linux bridge with the operator's address, no
 * route out (no NAT, no forwarding, no gateway on the hosts). Partitions are
 * drops in an nftables bridge-family table: frames between a cut-off host's
 * veth and any other port of the bridge are dropped, while frames to and from
 * the bridge itself (the operator) still pass, so drills keep their SSH path.
 */

import { ExpectedExit } from "../core/errors.js";
import { run, tryRun } from "../core/exec.js";
import { cidrsOverlap, parseCidr } from "../core/ip.js";
import type { LabNames } from "./names.js";

/** Refuses a lab range that overlaps a route this machine already has (other than the lab's own bridge). */
export function checkRangeFree(cidr: string, names: LabNames): void {
  const mine = parseCidr(cidr);
  const routes = JSON.parse(run("ip", ["-j", "-4", "route", "show"]) || "[]") as {
    dst: string;
    dev?: string;
  }[];
  for (const r of routes) {
    if (r.dst === "default" || r.dev === names.bridge) continue;
    const dst = parseCidr(r.dst.includes("/") ? r.dst : `${r.dst}/32`);
    if (mine && dst && cidrsOverlap(mine, dst)) {
      throw new ExpectedExit(`lab range ${cidr} overlaps the route ${r.dst} on ${r.dev ?? "this machine"}`, {
        code: "LAB_RANGE_TAKEN",
        hint: "pick another /24 in the lab spec (spec.cidr) so lab traffic cannot leave the bridge",
      });
    }
  }
}

/** Creates the bridge with the operator address (idempotent). */
export function bridgeUp(names: LabNames, address: string, prefix: number): void {
  if (tryRun("ip", ["link", "show", names.bridge]).code !== 0) {
    run("ip", ["link", "add", names.bridge, "type", "bridge"]);
  }
  const addrs = run("ip", ["-br", "-4", "addr", "show", names.bridge]);
  if (!addrs.includes(`${address}/${prefix}`))
    run("ip", ["addr", "add", `${address}/${prefix}`, "dev", names.bridge]);
  run("ip", ["link", "set", names.bridge, "up"]);
}

/** Removes the bridge and any veth of this lab still attached (idempotent). */
export function bridgeDown(names: LabNames): void {
  const links = JSON.parse(run("ip", ["-j", "link", "show"]) || "[]") as { ifname: string }[];
  for (const l of links) {
    if (l.ifname.startsWith(`vb-kh${names.id}`)) tryRun("ip", ["link", "del", l.ifname]);
  }
  if (tryRun("ip", ["link", "show", names.bridge]).code === 0) run("ip", ["link", "del", names.bridge]);
}

/** Creates the partition table: a set of cut-off ports and the two drop rules. */
export function partitionTableUp(names: LabNames): void {
  const t = names.table;
  run("nft", ["-f", "-"], {
    input: [
      `table bridge ${t} {`,
      "  set cut { type ifname; }",
      "  chain forward {",
      "    type filter hook forward priority filter; policy accept;",
      "    iifname @cut drop",
      "    oifname @cut drop",
      "  }",
      "}",
    ].join("\n"),
  });
}

/** Deletes the partition table (idempotent). */
export function partitionTableDown(names: LabNames): void {
  if (tryRun("nft", ["list", "table", "bridge", names.table]).code === 0)
    run("nft", ["delete", "table", "bridge", names.table]);
}

/** The ports currently cut off. */
export function cutPorts(names: LabNames): string[] {
  const r = tryRun("nft", ["-j", "list", "set", "bridge", names.table, "cut"]);
  if (r.code !== 0) return [];
  const doc = JSON.parse(r.stdout) as { nftables: { set?: { elem?: string[] } }[] };
  return doc.nftables.flatMap((e) => e.set?.elem ?? []);
}

/** Cuts `veth` off from every other port of the bridge. */
export function cut(names: LabNames, veth: string): void {
  if (!cutPorts(names).includes(veth))
    run("nft", ["add", "element", "bridge", names.table, "cut", `{ "${veth}" }`]);
}

/** Reconnects `veth`, or every port when none is given. */
export function uncut(names: LabNames, veth?: string): void {
  if (veth === undefined) run("nft", ["flush", "set", "bridge", names.table, "cut"]);
  else if (cutPorts(names).includes(veth))
    run("nft", ["delete", "element", "bridge", names.table, "cut", `{ "${veth}" }`]);
}
