import { describe, expect, it } from 'vitest';
import { checkImportUri, type ImportFilter, isLocalAddress, rawHostOf, type Resolver, UriRefused } from './import-filter.js';

/** Glance's defaults ([import_filtering_opts]) and ours (no local addresses). */
const GLANCE: ImportFilter = {
  allowed_schemes: ['http', 'https'],
  disallowed_schemes: [],
  allowed_hosts: [],
  disallowed_hosts: [],
  allowed_ports: [80, 443],
  disallowed_ports: [],
  allow_local_addresses: false,
};

/** A fixed DNS: names map to addresses; anything else does not resolve. */
function dns(map: Record<string, string[]>): Resolver & { asked: string[] } {
  const asked: string[] = [];
  const r = async (host: string) => {
    asked.push(host);
    const a = map[host];
    if (!a) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
    return a.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(r, { asked });
}

const DNS = dns({
  'images.example.org': ['203.0.113.10'],
  nas: ['192.168.1.20'],
  'nas.home.arpa': ['10.1.2.3'],
  'rebind.example.org': ['127.0.0.1'],
  'metadata.example.org': ['169.254.169.254'],
  'mixed.example.org': ['203.0.113.11', '::1'],
  'v6local.example.org': ['fe80::1'],
  'mapped.example.org': ['::ffff:127.0.0.1'],
});

async function reason(uri: string, f: Partial<ImportFilter> = {}, r: Resolver = DNS): Promise<string | null> {
  try {
    await checkImportUri(uri, { ...GLANCE, ...f }, r);
    return null;
  } catch (e) {
    if (!(e instanceof UriRefused)) throw e;
    expect(e.message).toContain('URI for web-download does not pass filtering: ');
    return e.reason;
  }
}

describe('web-download URL filtering (Glance validate_import_uri + local addresses)', () => {
  it('passes public and home-LAN hosts on the default ports, by name and by address', async () => {
    for (const u of [
      'http://images.example.org/debian.qcow2',
      'https://images.example.org:443/x.img',
      'http://nas/share/debian.qcow2',
      'http://nas.home.arpa/img',
      'http://192.168.1.20/img',
      'http://10.0.0.5:80/img',
      'http://[2001:db8::5]/img',
    ]) {
      expect(await reason(u), u).toBeNull();
    }
  });

  it('refuses schemes outside the allow list, and ones the fetcher cannot speak even when allowed', async () => {
    expect(await reason('ftp://images.example.org/x')).toMatch(/scheme ftp is not allowed/);
    expect(await reason('file:///etc/passwd')).toMatch(/scheme file is not allowed/);
    expect(await reason('ftp://images.example.org/x', { allowed_schemes: ['ftp'] })).toMatch(/only http and https/);
    expect(await reason('https://images.example.org/x', { allowed_schemes: [], disallowed_schemes: ['https'] })).toMatch(
      /scheme https is not allowed/,
    );
    // Both lists: Glance obeys the allow list only.
    expect(
      await reason('https://images.example.org/x', { allowed_schemes: ['https'], disallowed_schemes: ['https'] }),
    ).toBeNull();
  });

  it('applies the host lists to the normalised host, allow list first', async () => {
    expect(await reason('http://images.example.org/x', { allowed_hosts: ['nas'] })).toMatch(
      /host images.example.org is not allowed/,
    );
    expect(await reason('http://NAS/x', { allowed_hosts: ['nas'] })).toBeNull();
    expect(await reason('http://nas/x', { disallowed_hosts: ['NAS'] })).toMatch(/host nas is not allowed/);
    expect(await reason('http://nas/x', { allowed_hosts: ['nas'], disallowed_hosts: ['nas'] })).toBeNull();
    expect(await reason('http://[2001:0db8:0::5]/x', { disallowed_hosts: ['2001:db8::5'] })).toMatch(/not allowed/);
  });

  it('checks an explicit port against the port lists; a URL without one passes', async () => {
    expect(await reason('http://images.example.org:8080/x')).toMatch(/port 8080 is not allowed/);
    expect(await reason('http://images.example.org:8080/x', { allowed_ports: [] })).toBeNull();
    expect(await reason('http://images.example.org:8080/x', { allowed_ports: [], disallowed_ports: [8080] })).toMatch(
      /port 8080/,
    );
    expect(await reason('http://images.example.org:80/x', { allowed_ports: [443] })).toBeNull(); // default port: no port
    expect(await reason('http://images.example.org/x', { allowed_ports: [8080] })).toBeNull();
  });

  it('refuses loopback, link-local and unspecified addresses, literal or after DNS resolution', async () => {
    expect(await reason('http://127.0.0.1/x')).toMatch(/loopback or link-local address \(127.0.0.1\)/);
    expect(await reason('http://169.254.169.254/latest/meta-data/')).toMatch(/169.254.169.254/);
    expect(await reason('http://[::1]/x')).toMatch(/::1/);
    expect(await reason('http://[fe80::1]/x')).toMatch(/fe80::1/);
    expect(await reason('http://0.0.0.0/x')).toMatch(/0.0.0.0/);
    expect(await reason('http://[::ffff:127.0.0.1]/x')).toMatch(/loopback/);
    expect(await reason('http://rebind.example.org/x')).toMatch(
      /rebind.example.org is a loopback or link-local address \(127.0.0.1\)/,
    );
    expect(await reason('http://metadata.example.org/x')).toMatch(/169.254.169.254/);
    expect(await reason('http://mixed.example.org/x')).toMatch(/::1/); // any local address among them
    expect(await reason('http://v6local.example.org/x')).toMatch(/fe80::1/);
    expect(await reason('http://mapped.example.org/x')).toMatch(/::ffff:127.0.0.1/);
    // The operator may allow them (a mirror on this host).
    expect(await reason('http://127.0.0.1/x', { allow_local_addresses: true })).toBeNull();
    expect(await reason('http://rebind.example.org/x', { allow_local_addresses: true })).toBeNull();
  });

  it("refuses encoded and shorthand IPv4 forms, as Glance's normalize_hostname does", async () => {
    for (const u of [
      'http://2130706433/x',
      'http://0x7f000001/x',
      'http://017700000001/x',
      'http://127.1/x',
      'http://10.1/x',
      'http://0x7f.0.0.1/x',
      'http://127.000.000.001/x',
      'http://%31%32%37.0.0.1/x',
    ]) {
      const r = await reason(u, { allow_local_addresses: true });
      expect(r, u).toMatch(/numeric host names|ambiguous/);
    }
  });

  it('refuses URLs whose host two parsers read differently and credentials; a host that does not resolve passes (the fetch fails)', async () => {
    // urllib: host 127.0.0.1 (after the last @); WHATWG: host evil.example, path /@127.0.0.1
    expect(await reason('http://images.example.org\\@127.0.0.1/x')).toMatch(/ambiguous|credentials/);
    expect(await reason('http://user:pw@images.example.org/x')).toMatch(/credentials/);
    // Glance 25 accepts it at POST /import and the task fails; the connection's lookup checks again.
    expect((await checkImportUri('http://does-not.exist/no/possible/way', GLANCE, dns({}))).hostname).toBe('does-not.exist');
    expect(await reason('not a url')).toMatch(/not a valid URL/);
    expect(await reason('')).toMatch(/no URI/);
  });

  it('resolves names as the connection will (no trailing dot: search domains apply)', async () => {
    const r = dns({ nas: ['192.168.1.20'] });
    await checkImportUri('http://nas/x', GLANCE, r);
    expect(r.asked).toEqual(['nas']);
  });

  it('reads the host as urllib does and classifies local addresses', () => {
    expect(rawHostOf('http://u:p@Host.Example:8080/a@b')).toEqual({ host: 'host.example', userinfo: true });
    expect(rawHostOf('http://[2001:DB8::1]:80/')).toEqual({ host: '2001:db8::1', userinfo: false });
    expect(rawHostOf('http://a\\@b/')).toEqual({ host: 'b', userinfo: true });
    for (const a of [
      '127.0.0.1',
      '127.255.0.3',
      '169.254.169.254',
      '::1',
      'fe80::abcd',
      '::',
      '0.0.0.0',
      '224.0.0.1',
      '::ffff:169.254.1.1',
    ])
      expect(isLocalAddress(a), a).toBe(true);
    for (const a of ['10.0.0.1', '192.168.1.1', '172.16.0.1', '203.0.113.5', '2001:db8::1', 'fd00::1', 'nas'])
      expect(isLocalAddress(a), a).toBe(false);
  });
});
