/**
 * IPv4 and IPv6 addresses and CIDR ranges as big integers, enough for the
 * spec's checks (containment, overlap) and for picking addresses in a range.
 */
import { isIP } from "node:net";

/** A parsed address: its family and its value as an unsigned integer. */
export interface Ip {
  readonly version: 4 | 6;
  readonly value: bigint;
}

/** A parsed CIDR range; `base` has the host bits cleared. */
export interface Cidr {
  readonly version: 4 | 6;
  readonly base: bigint;
  readonly prefix: number;
}

const bits = (version: 4 | 6): number => (version === 4 ? 32 : 128);

/** Parses an IPv4 or IPv6 address; undefined when it is not one. */
export function parseIp(text: string): Ip | undefined {
  const version = isIP(text);
  if (version === 4) {
    const value = text.split(".").reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
    return { version, value };
  }
  if (version === 6) {
    if (text.includes(".")) return undefined; // embedded IPv4 forms are not used in specs
    const [head = "", tail] = text.split("::");
    const groups = (s: string) => (s === "" ? [] : s.split(":"));
    const left = groups(head);
    const right = tail === undefined ? [] : groups(tail);
    const fill = Array(8 - left.length - right.length).fill("0");
    const all = [...left, ...fill, ...right];
    const value = all.reduce((acc, g) => (acc << 16n) | BigInt(Number.parseInt(g, 16)), 0n);
    return { version, value };
  }
  return undefined;
}

/** Parses `a.b.c.d/n`; undefined when malformed. Host bits set is malformed too. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIp(text.slice(0, slash));
  const prefixText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > bits(ip.version)) return undefined;
  const base = ip.value & mask(ip.version, prefix);
  if (base !== ip.value) return undefined;
  return { version: ip.version, base, prefix };
}

function mask(version: 4 | 6, prefix: number): bigint {
  const width = BigInt(bits(version));
  const all = (1n << width) - 1n;
  return all ^ ((1n << (width - BigInt(prefix))) - 1n);
}

/** Whether `ip` lies inside `cidr`. */
export function cidrContains(cidr: Cidr, ip: Ip): boolean {
  return cidr.version === ip.version && (ip.value & mask(cidr.version, cidr.prefix)) === cidr.base;
}

/** Whether two ranges share any address. */
export function cidrsOverlap(a: Cidr, b: Cidr): boolean {
  if (a.version !== b.version) return false;
  const prefix = Math.min(a.prefix, b.prefix);
  const m = mask(a.version, prefix);
  return (a.base & m) === (b.base & m);
}

/** The n-th address of a range (0 is the network address). */
export function cidrAddress(cidr: Cidr, n: number): string {
  return formatIp({ version: cidr.version, value: cidr.base + BigInt(n) });
}

/** Formats an address in its usual text form (IPv6 without zero compression). */
export function formatIp(ip: Ip): string {
  if (ip.version === 4) {
    return [24n, 16n, 8n, 0n].map((s) => ((ip.value >> s) & 255n).toString()).join(".");
  }
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((ip.value >> s) & 0xffffn).toString(16));
  return groups.join(":");
}

/** Whether two address strings name the same address (`::1` and `0:0::1` do). */
export function sameIp(a: string, b: string): boolean {
  const x = parseIp(a);
  const y = parseIp(b);
  return x !== undefined && y !== undefined && x.version === y.version && x.value === y.value;
}

/** `address:port`, with an IPv6 address in brackets: the one place addresses are bracketed. */
export function hostPort(address: string, port: number): string {
  return `${address.includes(":") ? `[${address}]` : address}:${port}`;
}

/** `https://address:port`, bracketed like hostPort. */
export const httpsUrl = (address: string, port: number) => `https://${hostPort(address, port)}`;

/** Splits `address:port` (IPv6 in brackets), the inverse of hostPort. */
export function splitHostPort(endpoint: string): { host: string; port: number } {
  const i = endpoint.lastIndexOf(":");
  return { host: endpoint.slice(0, i).replace(/^\[(.*)\]$/, "$1"), port: Number(endpoint.slice(i + 1)) };
}
