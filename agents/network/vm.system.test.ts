import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { VifSpec } from '../../shared/agent/compute.js';
import { makeRunner } from '../../shared/exec/run.js';
import { buildDomainXml } from '../compute/domain-xml.js';
import { nicOf } from '../compute/libvirt-devices.js';
import { OvsDriver } from './ovs.js';
import { MultiHost, type SimHost } from './testing/harness.js';
import { hostA, hostB, ID, IP, MAC } from './testing/scenario.js';

/**
 * Real guests: the project's test image (build/test-image/homestack-guest.qcow2 under
 * TCG) on two simulated hosts, each with its own libvirtd, defined with the compute
 * driver's own domain XML (buildDomainXml: `<virtualport type='openvswitch'>` with the
 * port id, tap named tap+port[:11], host checksum offload off). The network agent's OVS driver binds the taps, DHCP serves the
 * guests (host B's guest across the tunnel), and a probe namespace on host A pings both.
 */
const IMG = new URL('../../build/test-image/', import.meta.url).pathname;
const why =
  process.env.SYSTEM_TESTS !== '1'
    ? 'SYSTEM_TESTS=1 is not set'
    : (MultiHost.unavailable() ??
      (!existsSync(join(IMG, 'homestack-guest.qcow2'))
        ? 'build/test-image is missing (scripts/build-test-image.sh)'
        : !existsSync('/usr/sbin/libvirtd')
          ? 'libvirtd is not installed'
          : null));
if (why) console.log(`[skip] network agent real-guest system test: ${why}`);

/**
 * The guest's domain as the compute driver defines it: the product's buildDomainXml with
 * its nicOf (tap name, `<virtualport type='openvswitch'>` with the port id, checksum
 * offload off, MTU), a qcow2 overlay of the test image as root disk, the serial console
 * logged to a file. No config drive: the guest's DHCP does not need one.
 */
const domainXml = (uuid: string, name: string, portId: string, mac: string, disk: string, consoleLog: string) =>
  buildDomainXml({
    uuid,
    title: name,
    virtType: 'qemu',
    machine: 'pc',
    arch: 'x86_64',
    vcpus: 1,
    memoryMb: 192,
    cpuMode: 'host-model',
    disks: [{ kind: 'file', path: disk, format: 'qcow2', device: 'disk', bus: 'virtio', target: 'vda' }],
    nics: [nicOf({ port_id: portId, mac, mtu: 1450 } as VifSpec)],
    consoleLog,
    vncListen: null,
    meta: { createdAt: new Date().toISOString() },
  });

describe.skipIf(!!why)('real guests on two simulated hosts', () => {
  const mh = new MultiHost();
  let A: SimHost;
  let B: SimHost;
  let dA: OvsDriver;
  let dB: OvsDriver;
  let ips: { a: string; b: string };
  const dir = () => join(mh.dir, 'vm');

  beforeAll(async () => {
    await mh.up();
    A = await mh.addHost('A', 1, { external: true, libvirt: true });
    B = await mh.addHost('B', 2, { libvirt: true });
    ips = { a: A.tunnelIp, b: B.tunnelIp };
    const mk = (h: SimHost, physical: Record<string, string>) =>
      new OvsDriver({
        run: h.run,
        hostname: `${mh.prefix}-${h.name}`,
        stateDir: join(h.dir, 'data', 'network'),
        tunnelIp: h.tunnelIp,
        datapath: 'auto',
        bridges: { int: 'br-int', tun: 'br-tun', physical },
      });
    dA = mk(A, { public: 'br-ex' });
    dB = mk(B, {});
    await dA.init();
    await dB.init();
    mkdirSync(dir(), { recursive: true });
    copyFileSync(join(IMG, 'homestack-guest.qcow2'), join(dir(), 'base.qcow2'));
    for (const vm of ['vm1', 'vm2'])
      await makeRunner()('qemu-img', [
        'create',
        '-q',
        '-f',
        'qcow2',
        '-F',
        'qcow2',
        '-b',
        join(dir(), 'base.qcow2'),
        join(dir(), `${vm}.qcow2`),
      ]);
  }, 120_000);

  afterAll(async () => {
    const problems = await mh.teardown();
    if (problems.length) console.log(`[teardown] ${problems.join('\n')}`);
  });

  it('boots a guest on each host; both get DHCP leases (MTU 1450) and answer pings across the tunnel', async () => {
    await dA.sync(hostA(ips, { sgbIcmp: true }));
    await dB.sync(hostB(ips));
    const probe = await mh.addGuest(A, '4', ID.G4, MAC.G4); // a namespace "guest" on host A (port g4)
    await dA.sync(hostA(ips, { sgbIcmp: true }));
    expect((await probe.dhcp()).ip).toBe(IP.G4);

    const t0 = Date.now();
    const logOf = (vm: string) => join(dir(), `${vm}.log`);
    for (const [vm, port, mac] of [
      ['vm1', ID.G1, MAC.G1],
      ['vm2', ID.G2, MAC.G2],
    ] as const)
      writeFileSync(
        join(dir(), `${vm}.xml`),
        domainXml(randomUUID(), `${mh.prefix}-${vm}`, port, mac, join(dir(), `${vm}.qcow2`), logOf(vm)),
      );
    await Promise.all([
      A.run('virsh', ['-c', 'qemu:///system', 'create', join(dir(), 'vm1.xml')], { timeoutMs: 240_000 }),
      B.run('virsh', ['-c', 'qemu:///system', 'create', join(dir(), 'vm2.xml')], { timeoutMs: 240_000 }),
    ]);
    const created = Date.now() - t0;
    const t1 = Date.now();
    // libvirt made the taps and OVS rows (iface-id = port id); the agent binds them
    const ra = await dA.sync(hostA(ips, { sgbIcmp: true }));
    const rb = await dB.sync(hostB(ips));
    expect(ra.ports).toContainEqual({ portId: ID.G1, status: 'ACTIVE' });
    expect(rb.ports).toContainEqual({ portId: ID.G2, status: 'ACTIVE' });

    const leaseOf = async (name: string) => {
      const log = logOf(name);
      for (let i = 0; i < 600; i++) {
        const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
        const m = /HOMESTACK-DHCP eth0 (\S+) router=(\S*) mtu=(\S*)/.exec(text);
        if (m) return { addr: m[1]!, router: m[2]!, mtu: m[3]!, ms: Date.now() - t1 };
        await new Promise((r) => setTimeout(r, 250));
      }
      throw new Error(`${name}: no HOMESTACK-DHCP line in ${log}`);
    };
    const [l1, l2] = await Promise.all([leaseOf('vm1'), leaseOf('vm2')]);
    expect(l1).toMatchObject({ addr: `${IP.G1}/24`, router: IP.ROUTER, mtu: '1450' });
    expect(l2).toMatchObject({ addr: `${IP.G2}/24`, mtu: '1450' });
    console.log(
      `[figures] virsh create (both, parallel): ${created} ms; domain running → DHCP lease (guest boot under TCG included): vm1 (host A) ${l1.ms} ms, vm2 (host B, DHCP across the tunnel) ${l2.ms} ms`,
    );

    let ok1 = false;
    let ok2 = false;
    for (let i = 0; i < 20 && !(ok1 && ok2); i++) {
      ok1 = ok1 || (await probe.ping(IP.G1, 1, 2));
      ok2 = ok2 || (await probe.ping(IP.G2, 1, 2));
    }
    expect(ok1).toBe(true); // same host
    expect(ok2).toBe(true); // across the VXLAN tunnel
  }, 480_000); // the first domain of a fresh libvirtd probes QEMU's capabilities (~50 s here, more under load)
});
