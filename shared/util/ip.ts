import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

/**
 * IP addresses and CIDRs, IPv4 and IPv6: the one address module of the controller and the
 * agents. Validation is node:net's (strict: dotted quads without leading zeros, RFC 4291
 * IPv6); parsing and canonical text (dotted quad, RFC 5952 compressed IPv6) are
 * ipaddr.js's; arithmetic is on bigint (addresses as numbers, so ranges and pools are
 * plain comparisons).
 */

export type IpVersion = 4 | 6;
export interface Cidr {
  version: IpVersion;
  network: bigint;
  prefix: number;
  bits: number;
}

const MAX = (bits: number) => (1n << BigInt(bits)) - 1n;

export function ipVersionOf(s: string): IpVersion | null {
  return isIPv4(s) ? 4 : isIPv6(s) ? 6 : null;
}

/** The address as a number, or null when it is not an address. */
export function ipToBig(s: string): { version: IpVersion; value: bigint } | null {
  const version = ipVersionOf(s);
  if (!version) return null;
  let v = 0n;
  for (const b of ipaddr.parse(s).toByteArray()) v = (v << 8n) | BigInt(b);
  return { version, value: v };
}

/** Canonical text: dotted quad, or RFC 5952 compressed IPv6. */
export function bigToIp(version: IpVersion, v: bigint): string {
  const n = version === 4 ? 4 : 16;
  const bytes: number[] = [];
  for (let i = n - 1; i >= 0; i--) bytes.push(Number((v >> BigInt(i * 8)) & 255n));
  return ipaddr.fromByteArray(bytes).toString();
}

/** Canonical form of an address, or null. */
export function canonicalIp(s: string): string | null {
  const p = ipToBig(s);
  return p ? bigToIp(p.version, p.value) : null;
}

/** "addr/prefix" with the host bits cleared, or null when it is not a CIDR. */
export function parseCidr(s: string): Cidr | null {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(s.trim());
  if (!m) return null;
  const ip = ipToBig(m[1]!);
  if (!ip) return null;
  const bits = ip.version === 4 ? 32 : 128;
  const prefix = Number(m[2]);
  if (prefix > bits) return null;
  const mask = MAX(bits) ^ MAX(bits - prefix);
  return { version: ip.version, network: ip.value & mask, prefix, bits };
}

export const cidrText = (c: Cidr): string => `${bigToIp(c.version, c.network)}/${c.prefix}`;
export const lastOf = (c: Cidr): bigint => c.network | MAX(c.bits - c.prefix);
export const cidrSize = (c: Cidr): bigint => 1n << BigInt(c.bits - c.prefix);
/** The prefix's netmask as text (255.255.255.0 for a /24). */
export const netmaskOf = (c: Cidr): string => bigToIp(c.version, MAX(c.bits) ^ MAX(c.bits - c.prefix));

export function inCidr(c: Cidr, ip: string): boolean {
  const p = ipToBig(ip);
  return !!p && p.version === c.version && p.value >= c.network && p.value <= lastOf(c);
}

// IPv4 in the forms the network agent writes into flows, dnsmasq and routes.

export const isV4 = (s: string): boolean => isIPv4(s);

/** A dotted quad as a 32-bit number (the address must be valid). */
export const toInt = (a: string): number => Number(ipToBig(a)!.value);
export const toAddr = (n: number): string => bigToIp(4, BigInt(n >>> 0));

export interface V4Cidr {
  network: string;
  prefix: number;
  netmask: string;
  size: number;
}

/** "10.0.0.5/24" → network 10.0.0.0, netmask 255.255.255.0; null when not IPv4. */
export function parseV4Cidr(cidr: string): V4Cidr | null {
  const c = parseCidr(cidr);
  if (!c || c.version !== 4 || !/^[^/]+\/\d{1,2}$/.test(cidr)) return null;
  return { network: bigToIp(4, c.network), prefix: c.prefix, netmask: netmaskOf(c), size: Number(cidrSize(c)) };
}

/** True when `addr` is inside `cidr` (both IPv4). */
export function inV4Cidr(addr: string, cidr: string): boolean {
  const c = parseCidr(cidr);
  return !!c && c.version === 4 && isV4(addr) && inCidr(c, addr);
}
