import { BadRequest, Conflict } from '../../shared/errors/index.js';
import {
  bigToIp,
  canonicalIp,
  cidrText,
  inCidr,
  ipToBig,
  lastOf,
  parseCidr,
  type Cidr,
  type IpVersion,
} from '../../shared/util/ip.js';
import { InvalidInput } from './errors.js';

/**
 * IP address management: subnet defaults and validation, and the choice of an address
 * inside one subnet (address arithmetic: shared/util/ip.ts). Pure: the
 * caller passes the addresses in use (read inside its transaction) and writes the
 * result in the same transaction; the allocations table's primary key is the final
 * guard against a double allocation.
 */

export interface Pool {
  start: string;
  end: string;
}

export class InvalidIpForSubnet extends BadRequest {
  constructor(ip: string, subnetId: string) {
    super(`IP address ${ip} is not a valid IP for the specified subnet ${subnetId}.`);
  }
}
export class IpAddressAlreadyAllocated extends Conflict {
  constructor(ip: string, subnetId: string) {
    super(`IP address ${ip} already allocated in subnet ${subnetId}.`);
  }
}
export class IpAddressGenerationFailure extends Conflict {
  constructor(networkId: string) {
    super(`No more IP addresses available on network ${networkId}.`);
  }
}

/** The usable range: IPv4 skips the network and broadcast addresses (not for /31, /32). */
export function usableRange(c: Cidr): { first: bigint; last: bigint } {
  if (c.version === 4 && c.prefix < 31) return { first: c.network + 1n, last: lastOf(c) - 1n };
  if (c.version === 6 && c.prefix < 127) return { first: c.network + 1n, last: lastOf(c) };
  return { first: c.network, last: lastOf(c) };
}

/** Neutron's default gateway: the first usable address. */
export const defaultGateway = (c: Cidr): string => bigToIp(c.version, usableRange(c).first);

/** The usable range minus the gateway, as one or two pools. */
export function defaultPools(c: Cidr, gateway: string | null): Pool[] {
  const { first, last } = usableRange(c);
  const g = gateway ? ipToBig(gateway)?.value : undefined;
  const ranges: Array<[bigint, bigint]> = [];
  if (g === undefined || g < first || g > last) ranges.push([first, last]);
  else {
    if (g > first) ranges.push([first, g - 1n]);
    if (g < last) ranges.push([g + 1n, last]);
  }
  return ranges.map(([a, b]) => ({ start: bigToIp(c.version, a), end: bigToIp(c.version, b) }));
}

/** Checks requested pools against the subnet and the gateway; returns them canonical. */
export function validatePools(c: Cidr, pools: Pool[], gateway: string | null): Pool[] {
  const { first, last } = usableRange(c);
  const parsed = pools
    .map((p) => {
      const a = ipToBig(p.start),
        b = ipToBig(p.end);
      if (!a || !b || a.version !== c.version || b.version !== c.version)
        throw new InvalidInput(`allocation pool ${p.start}-${p.end} is not a range of IPv${c.version} addresses.`);
      if (a.value > b.value) throw new InvalidInput(`allocation pool ${p.start}-${p.end}: the start is after the end.`);
      if (a.value < first || b.value > last) {
        throw new BadRequest(
          `The allocation pool ${p.start}-${p.end} spans beyond the subnet cidr ${cidrText(c)}.`,
          'OutOfBoundsAllocationPool',
        );
      }
      return [a.value, b.value] as const;
    })
    .sort((x, y) => (x[0] < y[0] ? -1 : 1));
  for (let i = 1; i < parsed.length; i++) {
    if (parsed[i]![0] <= parsed[i - 1]![1])
      throw new BadRequest('Found overlapping allocation pools.', 'OverlappingAllocationPools');
  }
  const g = gateway ? ipToBig(gateway)?.value : undefined;
  if (g !== undefined && parsed.some(([a, b]) => g >= a && g <= b)) {
    throw new Conflict(`Gateway ip ${gateway} conflicts with allocation pool.`, 'GatewayConflictWithAllocationPools');
  }
  return parsed.map(([a, b]) => ({ start: bigToIp(c.version, a), end: bigToIp(c.version, b) }));
}

export function poolSize(version: IpVersion, pools: Pool[]): bigint {
  return pools.reduce((n, p) => n + ipToBig(p.end)!.value - ipToBig(p.start)!.value + 1n, 0n);
}

export interface SubnetForIpam {
  id: string;
  network_id: string;
  cidr: string;
  gateway_ip: string | null;
  allocation_pools: Pool[];
}

/**
 * Checks an address a caller asked for: inside the subnet and usable (else
 * InvalidIpForSubnet 400), not in use (else IpAddressAlreadyAllocated 409). The
 * gateway is reserved for router interfaces. Returns the canonical text form.
 */
export function checkRequested(
  s: SubnetForIpam,
  ip: string,
  inUse: ReadonlySet<string>,
  o: { mayUseGateway?: boolean } = {},
): string {
  const c = parseCidr(s.cidr)!;
  const p = ipToBig(ip);
  if (!p || p.version !== c.version || !inCidr(c, ip)) throw new InvalidIpForSubnet(ip, s.id);
  const { first, last } = usableRange(c);
  if (p.value < first || p.value > last) throw new InvalidIpForSubnet(ip, s.id);
  const text = bigToIp(p.version, p.value);
  if (inUse.has(text) || (!o.mayUseGateway && s.gateway_ip && canonicalIp(s.gateway_ip) === text)) {
    throw new IpAddressAlreadyAllocated(text, s.id);
  }
  return text;
}

/**
 * The first free address of the subnet's pools (the gateway never), or
 * IpAddressGenerationFailure when the pools are exhausted. Scans at most
 * |inUse| + 2 candidates per pool, so large IPv6 pools cost nothing.
 */
export function nextFree(s: SubnetForIpam, inUse: ReadonlySet<string>): string {
  const c = parseCidr(s.cidr)!;
  const gw = s.gateway_ip ? canonicalIp(s.gateway_ip) : null;
  for (const pool of s.allocation_pools) {
    let v = ipToBig(pool.start)!.value;
    const end = ipToBig(pool.end)!.value;
    for (; v <= end; v++) {
      const t = bigToIp(c.version, v);
      if (!inUse.has(t) && t !== gw) return t;
    }
  }
  throw new IpAddressGenerationFailure(s.network_id);
}

/** The SLAAC (EUI-64) address of a MAC on a /64: fa:16:3e:aa:bb:cc on fd00::/64 → fd00::f816:3eff:feaa:bbcc. */
export function eui64(cidr: string, mac: string): string | null {
  const c = parseCidr(cidr);
  const b = mac.split(':').map((x) => parseInt(x, 16));
  if (!c || c.version !== 6 || c.prefix !== 64 || b.length !== 6 || b.some((x) => Number.isNaN(x))) return null;
  const bytes = [b[0]! ^ 0x02, b[1]!, b[2]!, 0xff, 0xfe, b[3]!, b[4]!, b[5]!];
  const iid = bytes.reduce((v, x) => (v << 8n) | BigInt(x), 0n);
  return bigToIp(6, c.network | iid);
}

/** Subnets whose addresses come from the MAC (Neutron's SLAAC modes). */
export const isSlaac = (s: { ip_version: number; ipv6_address_mode?: string | null }): boolean =>
  s.ip_version === 6 && (s.ipv6_address_mode === 'slaac' || s.ipv6_address_mode === 'dhcpv6-stateless');
