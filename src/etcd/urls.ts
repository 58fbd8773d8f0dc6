/** etcd's ports and the URLs of a member, bracketed for IPv6 (core/ip.ts). */
import { httpsUrl } from "../core/ip.js";

export const ETCD_CLIENT_PORT = 2379;
export const ETCD_PEER_PORT = 2380;
/** Plain-HTTP metrics and health, on 127.0.0.1 only. */
export const ETCD_METRICS_PORT = 2381;

/** The client URL of a member at `address`. */
export const clientUrl = (member: { readonly address: string }) => httpsUrl(member.address, ETCD_CLIENT_PORT);
/** The peer URL of a member at `address`. */
export const peerUrl = (member: { readonly address: string }) => httpsUrl(member.address, ETCD_PEER_PORT);
/** The client URL of the member on this host, over loopback. */
export const LOCAL_CLIENT_URL = httpsUrl("127.0.0.1", ETCD_CLIENT_PORT);

/** The client URLs of every member, `host`'s own first: it answers even when links to the others fail. */
export function clientUrlsFor(
  members: readonly { readonly name: string; readonly address: string }[],
  host: { readonly name: string },
): string[] {
  return [...members]
    .sort((a, b) => Number(b.name === host.name) - Number(a.name === host.name))
    .map(clientUrl);
}
