import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../exec/fake-runner.js';
import { dnsmasqArgs, renderHostsFile, renderOptsFile } from './dnsmasq.js';
import { ethtool } from './ethtool.js';
import { ip, parseAddrs, parseLinks } from './ip.js';
import { nft, replaceTableScript } from './nft.js';
import { flowLine, ovsOfctl, parseDiffFlows, strictMatch } from './ovs-ofctl.js';
import { addPortArgs, ovsVsctl, parseOvsTable } from './ovs-vsctl.js';
import { ovsAppctl } from './ovs-appctl.js';
import { sysctl } from './sysctl.js';

const fixture = (f: string) => readFileSync(new URL(`../../agents/network/testdata/${f}`, import.meta.url), 'utf8');

describe('ovs-vsctl', () => {
  it('adds a bridge with --may-exist, datapath, fail mode and protocols', async () => {
    const f = new FakeRunner();
    await ovsVsctl(f.run).ensureBridge('br-int', {
      datapathType: 'netdev',
      failMode: 'secure',
      protocols: ['OpenFlow10', 'OpenFlow13'],
    });
    expect(f.calls[0]).toMatchObject({
      cmd: 'ovs-vsctl',
      args: [
        '--timeout=10',
        '--may-exist',
        'add-br',
        'br-int',
        '--',
        'set',
        'Bridge',
        'br-int',
        'datapath_type=netdev',
        'fail_mode=secure',
        'protocols=OpenFlow10,OpenFlow13',
      ],
    });
  });
  it('adds a port with tag and interface settings in one transaction; deletes with --if-exists', async () => {
    expect(addPortArgs('br-int', 'tap1234', { tag: 5, externalIds: { 'iface-id': 'p1' } })).toEqual([
      '--may-exist',
      'add-port',
      'br-int',
      'tap1234',
      'tag=5',
      '--',
      'set',
      'Interface',
      'tap1234',
      'external_ids:iface-id="p1"',
    ]);
    const f = new FakeRunner();
    await ovsVsctl(f.run).delPorts(['a', 'b']);
    expect(f.calls[0]!.args).toEqual(['--timeout=10', '--if-exists', 'del-port', 'a', '--', '--if-exists', 'del-port', 'b']);
    expect(() => addPortArgs('br-int', 'bad name;rm')).toThrow(/bad OVS name/);
    expect(() => addPortArgs('br-int', 'tapx', { tag: 5000 })).toThrow(/VLAN/);
  });
  it('parses `list Interface` JSON captured from OVS 3.1', async () => {
    const f = new FakeRunner().on((c) => c.args.includes('Interface'), { stdout: fixture('ovs-vsctl-list-interface.json') });
    const ifs = await ovsVsctl(f.run).interfaces();
    expect(f.calls[0]!.args).toEqual([
      '--timeout=10',
      '-f',
      'json',
      '--columns=name,ofport,type,external_ids,options,mac_in_use',
      'list',
      'Interface',
    ]);
    const patch = ifs.find((i) => i.name === 'patch-tun')!;
    expect(patch).toMatchObject({ type: 'patch', ofport: 1, options: { peer: 'patch-int' } });
    const owned = ifs.find((i) => i.name === 'tap000000a1-00')!;
    expect(owned.externalIds).toMatchObject({ 'homestack-owner': 'router', 'iface-id': '000000a1-0000-4000-8000-000000000000' });
    expect(ifs.find((i) => i.name.startsWith('vxlan-'))).toMatchObject({
      type: 'vxlan',
      options: { key: 'flow', remote_ip: '192.0.2.2', df_default: 'true' },
    });
  });
  it('decodes empty sets as "no value" (Port.tag)', () => {
    const rows = parseOvsTable(fixture('ovs-vsctl-list-port.json'));
    expect(rows.find((r) => r.name === 'br-int')!.tag).toEqual([]);
    expect(rows.some((r) => typeof r.tag === 'number')).toBe(true);
  });
});

describe('ovs-ofctl', () => {
  it('parses diff-flows output captured from OVS (cookies, tables, timeouts, learn actions)', () => {
    const d = parseDiffFlows(fixture('ovs-ofctl-diff-flows.txt'));
    expect(d[0]).toEqual({
      sign: '-',
      table: 0,
      match: 'priority=1,in_port=1',
      cookie: 0x48530001fa18a10en,
      actions: 'resubmit(,2)',
    });
    expect(d.find((x) => x.match === 'priority=7,in_port=9')).toMatchObject({ cookie: 0n, actions: 'drop' });
    expect(d.find((x) => x.sign === '+')).toMatchObject({ match: 'priority=0', cookie: 0n });
    const learned = d.find((x) => x.table === 20)!;
    expect(learned.match).toBe('priority=1,dl_vlan=5,dl_dst=00:11:22:33:44:55');
    expect(d.find((x) => x.table === 10)!.actions).toMatch(/^learn\(table=20,/);
    expect(flowLine(learned)).toBe('cookie=0x0,table=20,priority=1,dl_vlan=5,dl_dst=00:11:22:33:44:55,actions=output:1');
    expect(strictMatch(learned)).toBe('table=20,priority=1,dl_vlan=5,dl_dst=00:11:22:33:44:55');
    expect(() => parseDiffFlows('garbage')).toThrow(/cannot parse/);
  });
  it('uses OpenFlow13, stdin for add-flows and --strict del-flows, a file for diff-flows', async () => {
    const f = new FakeRunner();
    const o = ovsOfctl(f.run);
    await o.addFlows('br-tun', 'table=0,priority=0,actions=drop\n');
    await o.delFlowsStrict('br-tun', 'table=0,priority=0\n');
    await o.diffFlows('br-tun', 'x\n');
    await o.addFlows('br-tun', '\n');
    expect(f.calls.map((c) => c.args)).toEqual([
      ['-O', 'OpenFlow13', 'add-flows', 'br-tun', '-'],
      ['-O', 'OpenFlow13', '--strict', 'del-flows', 'br-tun', '-'],
      ['-O', 'OpenFlow13', 'diff-flows', 'br-tun', expect.stringMatching(/homestack-flows-.*\/br-tun\.flows$/)],
    ]);
    expect(f.calls[0]!.opts?.input).toBe('table=0,priority=0,actions=drop\n');
  });
});

describe('ip', () => {
  it('parses `ip -j -d link` and `ip -j addr` captured output', () => {
    const links = parseLinks(fixture('ip-link.json'));
    expect(links.find((l) => l.ifname === 'eth1')).toMatchObject({ kind: 'veth', up: true });
    expect(links.find((l) => l.ifname === 'lo')).toMatchObject({ up: true, mtu: 65536 });
    expect(parseAddrs(fixture('ip-addr.json')).find((a) => a.ifname === 'br-phy')).toEqual({
      ifname: 'br-phy',
      family: 'inet',
      local: '192.0.2.1',
      prefixlen: 24,
    });
  });
  it('builds veth, address and namespace argv; refuses bad names', async () => {
    const f = new FakeRunner();
    const i = ip(f.run);
    await i.addVeth('tapabc', 'ns-abc', 'qdhcp-x');
    await i.setLink('ns-abc', { address: 'FA:16:3E:00:00:01', mtu: 1450, up: true }, 'qdhcp-x');
    await i.addAddr('ns-abc', '10.0.0.2/24', 'qdhcp-x');
    await i.netnsEnsure('qdhcp-x');
    expect(f.calls.map((c) => c.args)).toEqual([
      ['link', 'add', 'tapabc', 'type', 'veth', 'peer', 'name', 'ns-abc', 'netns', 'qdhcp-x'],
      ['-n', 'qdhcp-x', 'link', 'set', 'dev', 'ns-abc', 'address', 'fa:16:3e:00:00:01', 'mtu', '1450', 'up'],
      ['-n', 'qdhcp-x', 'addr', 'replace', '10.0.0.2/24', 'dev', 'ns-abc'],
      ['netns', 'add', 'qdhcp-x'],
      ['-n', 'qdhcp-x', 'link', 'set', 'dev', 'lo', 'up'],
    ]);
    await expect(i.addVeth('way-too-long-name0', 'x', 'ns')).rejects.toThrow(/interface name/);
    await expect(i.netnsDel('../etc')).rejects.toThrow(/namespace/);
  });
  it('ethtool turns TX checksum offload off inside a namespace', async () => {
    const f = new FakeRunner();
    await ethtool(f.run).txOff('ns-abc', 'qdhcp-x');
    expect(f.calls[0]).toMatchObject({ cmd: 'ip', args: ['netns', 'exec', 'qdhcp-x', 'ethtool', '-K', 'ns-abc', 'tx', 'off'] });
  });
});

describe('dnsmasq (Neutron dhcp.py style)', () => {
  it('command line: pid file, hosts/opts/lease files, bind-dynamic, static range per subnet, MTU option', () => {
    const a = dnsmasqArgs({
      interface: 'ns-abc',
      pidFile: '/d/pid',
      hostsFile: '/d/host',
      optsFile: '/d/opts',
      leaseFile: '/d/leases',
      ranges: [{ tag: 'subnet-1', network: '10.0.0.0', netmask: '255.255.255.0', leaseSeconds: 86400 }],
      leaseMax: 256,
      domain: 'openstacklocal',
      mtu: 1450,
    });
    expect(a).toEqual([
      '--no-hosts',
      '--no-resolv',
      '--port=0',
      '--except-interface=lo',
      '--pid-file=/d/pid',
      '--dhcp-hostsfile=/d/host',
      '--dhcp-optsfile=/d/opts',
      '--dhcp-leasefile=/d/leases',
      '--interface=ns-abc',
      '--bind-dynamic',
      '--dhcp-authoritative',
      '--dhcp-lease-max=256',
      '--domain=openstacklocal',
      '--dhcp-option-force=option:mtu,1450',
      '--conf-file=/dev/null',
      '--dhcp-range=set:subnet-1,10.0.0.0,static,255.255.255.0,86400s',
    ]);
  });
  it('hosts file: one sorted line per port, MAC lower-cased, hostname derived from the address', () => {
    expect(
      renderHostsFile(
        [
          { mac: 'FA:16:3E:00:00:12', ip: '10.0.0.12' },
          { mac: 'fa:16:3e:00:00:11', ip: '10.0.0.11', hostname: 'vm1' },
        ],
        'openstacklocal',
      ),
    ).toBe('fa:16:3e:00:00:11,vm1.openstacklocal,10.0.0.11\nfa:16:3e:00:00:12,host-10-0-0-12.openstacklocal,10.0.0.12\n');
    expect(() => renderHostsFile([{ mac: 'x', ip: '10.0.0.1' }], 'd')).toThrow(/MAC/);
  });
  it('opts file: router (empty when none), DNS, classless routes with the default route added', () => {
    expect(
      renderOptsFile([
        {
          tag: 'subnet-1',
          router: '10.0.0.1',
          dnsServers: ['8.8.8.8'],
          routes: [{ destination: '192.168.0.0/16', nexthop: '10.0.0.254' }],
        },
        { tag: 'subnet-2', router: null, dnsServers: [], routes: [] },
      ]),
    ).toBe(
      [
        'tag:subnet-1,option:router,10.0.0.1',
        'tag:subnet-1,option:dns-server,8.8.8.8',
        'tag:subnet-1,option:classless-static-route,192.168.0.0/16,10.0.0.254,0.0.0.0/0,10.0.0.1',
        'tag:subnet-1,249,192.168.0.0/16,10.0.0.254,0.0.0.0/0,10.0.0.1',
        'tag:subnet-2,option:router',
        '',
      ].join('\n'),
    );
  });
});

describe('nft', () => {
  it('replaces a table atomically in one script, inside the namespace', async () => {
    const s = replaceTableScript('ip homestack', '  chain x {\n  }\n');
    expect(s).toBe('table ip homestack {}\ndelete table ip homestack\ntable ip homestack {\n  chain x {\n  }\n}\n');
    const f = new FakeRunner();
    await nft(f.run).apply(s, 'qrouter-1');
    expect(f.calls[0]).toMatchObject({ cmd: 'ip', args: ['netns', 'exec', 'qrouter-1', 'nft', '-f', '-'], opts: { input: s } });
    expect(() => replaceTableScript('ip bad;name', '')).toThrow(/nft table/);
  });
});

describe('ovs-appctl and sysctl', () => {
  it('flushes one conntrack zone; stops a daemon by its control socket; refuses odd targets', async () => {
    const f = new FakeRunner();
    const a = ovsAppctl(f.run);
    await a.flushConntrack(7);
    await a.exit('/run/openvswitch/ovs-vswitchd.12.ctl');
    expect(f.calls.map((c) => [c.cmd, ...c.args])).toEqual([
      ['ovs-appctl', 'dpctl/flush-conntrack', 'zone=7'],
      ['ovs-appctl', '-t', '/run/openvswitch/ovs-vswitchd.12.ctl', 'exit'],
    ]);
    await expect(a.exit('x;rm -rf /')).rejects.toThrow(/target/);
  });
  it('sets a sysctl inside a namespace', async () => {
    const f = new FakeRunner();
    await sysctl(f.run).set('net.ipv4.ip_forward', '1', 'qrouter-1');
    expect(f.calls[0]).toMatchObject({
      cmd: 'ip',
      args: ['netns', 'exec', 'qrouter-1', 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'],
    });
    await expect(sysctl(f.run).set('a b', '1')).rejects.toThrow(/bad sysctl/);
  });
});
