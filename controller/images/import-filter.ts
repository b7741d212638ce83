import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';

/**
 * Which URLs web-download may fetch: Glance's [import_filtering_opts] (allow and deny
 * lists of schemes, hosts and ports; where both lists of a kind are set only the allow
 * list counts) with Glance's host normalisation (glance/common/utils.py
 * validate_import_uri, normalize_hostname: only standard IP notation, no numeric or
 * shorthand "hosts", a host name must resolve), and one rule Glance leaves to the
 * operator: unless `allow_local_addresses`, no host that resolves to a loopback,
 * link-local (169.254.169.254, the metadata service), unspecified or multicast
 * address. Private ranges (a NAS on the home LAN) pass. The fetcher repeats the address
 * check on the address it connects to and runs all of it again on every redirect.
 */
export interface ImportFilter {
  allowed_schemes: readonly string[];
  disallowed_schemes: readonly string[];
  allowed_hosts: readonly string[];
  disallowed_hosts: readonly string[];
  allowed_ports: readonly number[];
  disallowed_ports: readonly number[];
  allow_local_addresses: boolean;
}

export interface ResolvedAddress {
  address: string;
  family: number;
}
/** Every address a host name resolves to (getaddrinfo); rejects when it resolves to none. */
export type Resolver = (host: string) => Promise<ResolvedAddress[]>;

export const systemResolver: Resolver = (host) => dnsLookup(host, { all: true, verbatim: true });

/** Why a URL may not be fetched; the message is for the user. */
export class UriRefused extends Error {
  constructor(
    readonly uri: string,
    readonly reason: string,
  ) {
    super(`URI for web-download does not pass filtering: ${uri} (${reason})`);
    this.name = 'UriRefused';
  }
}

/** The schemes the fetcher speaks, whatever the lists allow. */
const FETCHABLE = new Set(['http', 'https']);

const LOCAL = new BlockList();
for (const [net, bits] of [
  ['0.0.0.0', 8],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['224.0.0.0', 4],
  ['255.255.255.255', 32],
] as const) {
  LOCAL.addSubnet(net, bits, 'ipv4');
}
for (const [net, bits] of [
  ['::', 128],
  ['::1', 128],
  ['fe80::', 10],
  ['ff00::', 8],
] as const) {
  LOCAL.addSubnet(net, bits, 'ipv6');
}

/** Loopback, link-local, unspecified, broadcast or multicast (IPv4-mapped IPv6 included). */
export function isLocalAddress(address: string): boolean {
  const v = isIP(address);
  if (v === 0) return false;
  return LOCAL.check(address, v === 4 ? 'ipv4' : 'ipv6');
}

/**
 * The host as Python's urllib.parse sees it (Glance's parser): the authority runs to
 * the first '/', '?' or '#', credentials end at its last '@', an IPv6 literal is in
 * brackets. Lower-cased, brackets removed; null when there is none.
 */
export function rawHostOf(uri: string): { host: string | null; userinfo: boolean } {
  const m = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/([^/?#]*)/.exec(uri);
  if (!m) return { host: null, userinfo: false };
  let auth = m[1]!;
  const at = auth.lastIndexOf('@');
  const userinfo = at >= 0;
  if (userinfo) auth = auth.slice(at + 1);
  if (auth.startsWith('[')) {
    const end = auth.indexOf(']');
    return { host: end > 0 ? auth.slice(1, end).toLowerCase() : null, userinfo };
  }
  const host = auth.split(':')[0]!.toLowerCase();
  return { host: host || null, userinfo };
}

/** Standard dotted-quad IPv4 (what Python's ipaddress.IPv4Address accepts). */
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/**
 * Glance's normalize_hostname on the host urllib sees, cross-checked with the URL the
 * fetcher will use (WHATWG): an IP literal in standard form, or a host name (with the
 * addresses it resolves to now, none if it does not resolve). Returns the normalised host
 * and its addresses, or the reason it is refused.
 */
async function normalizeHost(
  raw: string,
  url: URL,
  resolve: Resolver,
): Promise<{ host: string; addresses: string[] } | { refused: string }> {
  const whatwg = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (IPV4.test(raw)) {
    if (whatwg !== raw) return { refused: 'the host is ambiguous' };
    return { host: raw, addresses: [raw] };
  }
  if (isIP(raw) === 6 || raw.includes(':')) {
    if (isIP(raw) !== 6 || isIP(whatwg) !== 6) return { refused: 'the host is not a valid IP address' };
    return { host: whatwg, addresses: [whatwg] };
  }
  if (/^[\d.]+$/.test(raw)) return { refused: 'numeric host names (encoded IP addresses) are not allowed' };
  // Anything WHATWG reads differently (0x7f.1, percent-encoding, a backslash before '@')
  // would make the check and the connection disagree about the host. Glance appends a
  // dot before resolving so that getaddrinfo cannot read an encoded address as a number;
  // those are refused above, so the name is resolved as the connection will resolve it
  // (with the search domains: `http://nas/` on a home LAN).
  if (whatwg !== raw || isIP(whatwg)) return { refused: 'the host is ambiguous' };
  // A name that does not resolve now is not refused here: Glance 25 accepts the import (202)
  // and its task fails, setting os_glance_failed_import (Tempest's
  // test_image_web_download_import_with_bad_url waits for that). Nothing is fetched without
  // a check: the connection resolves the name again and refuses local addresses then
  // (web-download.ts guardedLookup), so a name that resolves later is checked as it connects.
  try {
    return { host: raw, addresses: (await resolve(raw)).map((a) => a.address) };
  } catch {
    return { host: raw, addresses: [] };
  }
}

/** Where both lists of a kind are set, Glance obeys the allow list only. */
function effective<T>(allow: readonly T[], deny: readonly T[]): { allow: readonly T[]; deny: readonly T[] } {
  return allow.length && deny.length ? { allow, deny: [] } : { allow, deny };
}

/**
 * Glance's validate_import_uri plus the local-address rule. Resolves with the parsed URL
 * (what the fetcher must use) or rejects with UriRefused.
 */
export async function checkImportUri(uri: string, f: ImportFilter, resolve: Resolver = systemResolver): Promise<URL> {
  const refuse = (reason: string) => new UriRefused(uri, reason);
  if (typeof uri !== 'string' || !uri) throw refuse('no URI');
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw refuse('not a valid URL');
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  const schemes = effective(f.allowed_schemes, f.disallowed_schemes);
  if (!scheme || (schemes.allow.length && !schemes.allow.includes(scheme)) || schemes.deny.includes(scheme)) {
    throw refuse(`the scheme ${scheme || '(none)'} is not allowed`);
  }
  if (!FETCHABLE.has(scheme)) throw refuse(`only http and https URLs can be downloaded`);
  const raw = rawHostOf(uri);
  if (raw.userinfo || url.username || url.password) throw refuse('credentials in the URL are not supported');
  if (!raw.host) throw refuse('the URL has no host');
  const norm = await normalizeHost(raw.host, url, resolve);
  if ('refused' in norm) throw refuse(norm.refused);
  const hosts = effective(
    f.allowed_hosts.map((h) => h.toLowerCase()),
    f.disallowed_hosts.map((h) => h.toLowerCase()),
  );
  if ((hosts.allow.length && !hosts.allow.includes(norm.host)) || hosts.deny.includes(norm.host)) {
    throw refuse(`the host ${norm.host} is not allowed`);
  }
  const port = url.port ? Number(url.port) : null;
  const ports = effective(f.allowed_ports, f.disallowed_ports);
  if (port !== null && ((ports.allow.length && !ports.allow.includes(port)) || ports.deny.includes(port))) {
    throw refuse(`the port ${port} is not allowed`);
  }
  if (!f.allow_local_addresses) {
    const local = norm.addresses.find(isLocalAddress);
    if (local) throw refuse(`${norm.host} is a loopback or link-local address (${local})`);
  }
  return url;
}
