/** Small IPv4 helpers for the network agent (no dependency). */

export const isV4 = (s: string): boolean => {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(s);
  return !!m && m.slice(1).every((x) => Number(x) <= 255);
};

export const toInt = (a: string): number => a.split('.').reduce((n, x) => n * 256 + Number(x), 0);
export const toAddr = (n: number): string => [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.');

export interface V4Cidr {
  network: string;
  prefix: number;
  netmask: string;
  size: number;
}

/** "10.0.0.5/24" → network 10.0.0.0, netmask 255.255.255.0; null when not IPv4. */
export function parseV4Cidr(cidr: string): V4Cidr | null {
  const [a, p] = cidr.split('/');
  const prefix = Number(p);
  if (!a || !isV4(a) || !Number.isInteger(prefix) || prefix < 0 || prefix > 32) return null;
  const mask = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return { network: toAddr((toInt(a) & mask) >>> 0), prefix, netmask: toAddr(mask), size: 2 ** (32 - prefix) };
}

/** True when `addr` is inside `cidr`. */
export function inV4Cidr(addr: string, cidr: string): boolean {
  const c = parseV4Cidr(cidr);
  if (!c || !isV4(addr)) return false;
  const mask = c.prefix === 0 ? 0 : (0xffffffff << (32 - c.prefix)) >>> 0;
  return (toInt(addr) & mask) >>> 0 === toInt(c.network);
}

/**
 * A port range as value/mask pairs for OpenFlow `tp_dst=V/M` (the standard split of a
 * range into aligned power-of-two blocks). [0, 65535] → [] (no match needed).
 */
export function portRangeMasks(min: number, max: number): string[] {
  if (min <= 0 && max >= 65535) return [];
  if (min === max) return [String(min)];
  const out: string[] = [];
  let lo = min;
  while (lo <= max) {
    let size = 1;
    while ((lo & (size * 2 - 1)) === 0 && lo + size * 2 - 1 <= max && size < 65536) size *= 2;
    out.push(
      size === 1
        ? String(lo)
        : `0x${lo.toString(16).padStart(4, '0')}/0x${((0xffff & ~(size - 1)) >>> 0).toString(16).padStart(4, '0')}`,
    );
    lo += size;
  }
  return out;
}
