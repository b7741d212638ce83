import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvsDriver } from '../../agents/network/ovs.js';
import { MultiHost, type FakeGuest, type SimHost } from '../../agents/network/testing/harness.js';
import { netTestApp, type NetTestApp } from '../../controller/networks/testing/kit.js';

/**
 * Issue 11, scenario 7: tenant isolation on the wire, on real Open vSwitch with the
 * controller's desired state applied by the real agent driver on a simulated host
 * (agents/network/testing/harness.ts). Fake guests are network namespaces plugged into
 * br-int like VM ports. The attacker x writes raw Ethernet frames (python3 AF_PACKET)
 * with whatever source MAC/IP it likes; receivers count UDP datagrams by tag, so
 * "never sees it" is a count of zero, not a missing ping reply.
 */
const why = process.env.SYSTEM_TESTS !== '1' ? 'SYSTEM_TESTS=1 is not set' : MultiHost.unavailable();
if (why) console.log(`[skip] faults/wire tenant isolation: ${why}`);

const SEND = `import socket, struct, sys
def csum(b):
    if len(b) % 2: b += b'\\0'
    s = sum(struct.unpack('!%dH' % (len(b)//2), b)); s = (s >> 16) + (s & 0xffff); s += s >> 16
    return (~s) & 0xffff
ifc, smac, dmac, sip, dip, port, tag, n = sys.argv[1:9]
payload = tag.encode()
udp = struct.pack('!HHHH', 40000, int(port), 8 + len(payload), 0) + payload
ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, socket.inet_aton(sip), socket.inet_aton(dip))
ip = ip[:10] + struct.pack('!H', csum(ip)) + ip[12:]
eth = bytes.fromhex(dmac.replace(':', '')) + bytes.fromhex(smac.replace(':', '')) + b'\\x08\\x00'
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind((ifc, 0))
for i in range(int(n)): s.send(eth + ip + udp)
`;
const LISTEN = `import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('0.0.0.0', int(sys.argv[1]))); s.settimeout(0.2)
end = time.time() + float(sys.argv[2]); seen = {}
while time.time() < end:
    try: d, a = s.recvfrom(2048); k = d.decode(errors='replace') + '@' + a[0]; seen[k] = seen.get(k, 0) + 1
    except socket.timeout: pass
print(' '.join('%s=%d' % kv for kv in sorted(seen.items())))
`;
const CONNECT = `import socket, sys
r = []
for a in sys.argv[2:]:
    s = socket.socket(); s.settimeout(2)
    try: s.connect((a, int(sys.argv[1]))); r.append(a + ':open')
    except socket.timeout: r.append(a + ':timeout')
    except OSError as e: r.append(a + ':' + (e.strerror or 'error').replace(' ', '_'))
    s.close()
print(' '.join(r))
`;

describe.skipIf(!!why)('tenant isolation on the wire (real OVS, controller desired state)', () => {
  const mh = new MultiHost();
  let t: NetTestApp;
  let A: SimHost;
  let d: OvsDriver;
  const g: Record<string, FakeGuest> = {};
  const p: Record<string, { id: string; mac: string; ip: string }> = {};
  const figures: Record<string, unknown> = {};
  const dir = `/tmp/${mh.prefix}-wire`;
  const py = (f: string) => `/usr/bin/python3 ${join(dir, f)}`;

  const api = async (method: string, url: string, body?: unknown) => {
    const r = await t.req(method, url, 'admin', body);
    expect(r.status, JSON.stringify(r.body)).toBeLessThan(300);
    return r.body;
  };
  const converge = async () => {
    const r = await d.sync(t.net.syncer.desired().get('A')!);
    expect(r.errors).toEqual([]);
    return r;
  };
  /** x sends `n` forged UDP frames to guest `to`; returns how many `to` received with that tag. */
  const attack = async (to: string, o: { smac?: string; sip?: string; tag: string; n?: number; dmac?: string; dip?: string }) => {
    const n = o.n ?? 20;
    const listener = g[to]!.sh(`${py('listen.py')} 7000 2.5`, { timeoutMs: 20_000 });
    await new Promise((r) => setTimeout(r, 600));
    const s = await g.x!.sh(
      `${py('send.py')} eth0 ${o.smac ?? p.x!.mac} ${o.dmac ?? p[to]!.mac} ${o.sip ?? p.x!.ip} ${o.dip ?? p[to]!.ip} 7000 ${o.tag} ${n}`,
    );
    expect(s.code, s.stdout).toBe(0);
    const out = (await listener).stdout.trim();
    const m = out.split(/\s+/).find((e) => e.startsWith(`${o.tag}@`));
    const got = m ? Number(m.split('=')[1]) : 0;
    (figures.frames as Record<string, string>)[o.tag] = `${got}/${n}`;
    return got;
  };

  beforeAll(async () => {
    figures.frames = {};
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'send.py'), SEND);
    writeFileSync(join(dir, 'listen.py'), LISTEN);
    writeFileSync(join(dir, 'connect.py'), CONNECT);
    await mh.up();
    A = await mh.addHost('A', 1);
    d = new OvsDriver({
      run: A.run,
      hostname: `${mh.prefix}-A`,
      stateDir: join(A.dir, 'data', 'network'),
      tunnelIp: A.tunnelIp,
      datapath: 'auto',
      bridges: { int: 'br-int', tun: 'br-tun', physical: {} },
    });
    await d.init();
    t = await netTestApp();
    t.addHost('A', { tunnelIp: A.tunnelIp });
    // a and b overlap (10.253.0.0/24), c does not (10.252.0.0/24); no router anywhere.
    const nets: Record<string, { id: string; sub: string }> = {};
    for (const [n, cidr] of [
      ['a', '10.253.0.0/24'],
      ['b', '10.253.0.0/24'],
      ['c', '10.252.0.0/24'],
    ] as const) {
      const id = (await api('POST', '/v2.0/networks', { network: { name: `${mh.prefix}-${n}` } })).network.id;
      const sub = (await api('POST', '/v2.0/subnets', { subnet: { network_id: id, cidr, ip_version: 4, enable_dhcp: false } }))
        .subnet.id;
      nets[n] = { id, sub };
    }
    // x attacker, v victim and w bystander on a (same default group); b1 on b with
    // v's address; c1 on c.
    for (const [name, net, ip] of [
      ['x', 'a', '10.253.0.11'],
      ['v', 'a', '10.253.0.12'],
      ['w', 'a', '10.253.0.13'],
      ['b1', 'b', '10.253.0.12'],
      ['c1', 'c', '10.252.0.12'],
    ] as const) {
      const port = (
        await api('POST', '/v2.0/ports', {
          port: {
            network_id: nets[net]!.id,
            fixed_ips: [{ subnet_id: nets[net]!.sub, ip_address: ip }],
            device_owner: 'compute:nova',
            device_id: `${mh.prefix}-${name}`,
          },
        })
      ).port;
      await t.net.facade.bindPort(port.id, 'A');
      p[name] = { id: port.id, mac: port.mac_address, ip };
      g[name] = await mh.addGuest(A, name, port.id, port.mac_address);
      await g[name]!.sh(`ip addr add ${ip}/24 dev eth0`);
    }
    const r = await converge();
    expect(r.ports.every((x) => x.status === 'ACTIVE')).toBe(true);
  }, 300_000);

  afterAll(async () => {
    console.log(`[figures] ${JSON.stringify(figures)}`);
    await t?.close();
    const problems = await mh.teardown();
    if (problems.length) console.log(`[teardown] ${problems.join('\n')}`);
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it('control: an honest frame from x reaches v (same network, same default group)', async () => {
    expect(await attack('v', { tag: 'honest' })).toBeGreaterThan(15);
  });

  it("port security: a forged source MAC, a forged source IP, or both (w's identity) never reach v", async () => {
    expect(await attack('v', { tag: 'fakemac', smac: 'fa:16:3e:00:66:66' })).toBe(0);
    expect(await attack('v', { tag: 'wmac', smac: p.w!.mac })).toBe(0);
    expect(await attack('v', { tag: 'wip', sip: p.w!.ip })).toBe(0);
    expect(await attack('v', { tag: 'wboth', smac: p.w!.mac, sip: p.w!.ip })).toBe(0);
    expect(await attack('v', { tag: 'offsubnet', sip: '10.99.0.1' })).toBe(0);
  });

  it("other networks: x reaches neither b1 (overlapping subnet, v's address) nor c1, even knowing their MACs", async () => {
    expect(await attack('b1', { tag: 'tob1' })).toBe(0);
    expect(await attack('b1', { tag: 'tob1bcast', dmac: 'ff:ff:ff:ff:ff:ff' })).toBe(0);
    expect(await attack('c1', { tag: 'toc1' })).toBe(0);
    expect(await attack('c1', { tag: 'toc1bcast', dmac: 'ff:ff:ff:ff:ff:ff', dip: '255.255.255.255' })).toBe(0);
  });

  it('no host service is reachable from a guest, even one listening on 0.0.0.0 and an attacker claiming host subnets', async () => {
    const port = 8799;
    const server = A.sh(
      `timeout 25 /usr/bin/python3 -c "import socket,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(('0.0.0.0', ${port})); s.listen(8); s.settimeout(24)
try:
  for i in range(2): c,_=s.accept(); c.close()
except Exception: pass" ; true`,
      { timeoutMs: 30_000 },
    ).catch(() => '');
    await new Promise((r) => setTimeout(r, 800));
    const fromHost = (await A.sh(`${py('connect.py')} ${port} ${A.tunnelIp} 127.0.0.1`)).trim();
    expect(fromHost).toBe(`${A.tunnelIp}:open 127.0.0.1:open`);
    // The attacker gives itself addresses on the underlay and a default route out.
    await g.x!.sh(`ip addr add 192.0.2.250/24 dev eth0; ip route add default dev eth0`);
    const fromGuest = (await g.x!.sh(`${py('connect.py')} ${port} ${A.tunnelIp} 10.253.0.1 169.254.169.254`)).stdout.trim();
    figures.connect_from_host = fromHost;
    figures.connect_from_guest = fromGuest;
    expect(fromGuest).not.toMatch(/:open/);
    await server;
  }, 60_000);

  it('with port_security_enabled=false on x the same spoofs go through (the check above is what stopped them)', async () => {
    await api('PUT', `/v2.0/ports/${p.x!.id}`, { port: { port_security_enabled: false, security_groups: [] } });
    await converge();
    expect(await attack('v', { tag: 'off-wip', sip: p.w!.ip })).toBeGreaterThan(15);
    // x left the default group with port security, so v's ingress rule (remote group)
    // no longer admits x's own address: the forged MAC rides with w's (a member's) IP.
    expect(await attack('v', { tag: 'off-fakemac', smac: 'fa:16:3e:00:66:67', sip: p.w!.ip })).toBeGreaterThan(15);
    expect(await attack('v', { tag: 'off-xip-sg', smac: 'fa:16:3e:00:66:67' })).toBe(0);
    // Network separation does not depend on port security.
    expect(await attack('b1', { tag: 'off-tob1' })).toBe(0);
    expect(await attack('c1', { tag: 'off-toc1' })).toBe(0);
  });
});
