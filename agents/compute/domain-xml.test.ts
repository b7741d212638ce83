import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { expectGolden } from '../../shared/testing/golden.js';
import { buildDomainXml, diskXml, iscsiSecretXml, type DomainConfig } from './domain-xml.js';
import { nextVirtioTarget, readDomainXml } from './domain-read.js';
import { parseXml } from './xml.js';

const golden = (name: string, actual: string) => expectGolden(new URL(`./testdata/${name}`, import.meta.url).pathname, actual);

const UUID = '285450bd-5d75-4eac-a425-0c8dca9c4fe2';
const PORT = '10011000-0000-4000-8000-000000000011';
const VOL = '7f0c9a52-3a8b-4c55-9d3e-1b2c3d4e5f60';

const full: DomainConfig = {
  uuid: UUID,
  title: 'web <1> & "co"',
  virtType: 'qemu',
  machine: 'pc',
  arch: 'x86_64',
  vcpus: 2,
  memoryMb: 256,
  cpuMode: 'host-model',
  disks: [
    {
      kind: 'file',
      path: `/var/lib/homestack-agent/instances/${UUID}/disk`,
      format: 'qcow2',
      device: 'disk',
      bus: 'virtio',
      target: 'vda',
    },
    {
      kind: 'file',
      path: `/var/lib/homestack-agent/instances/${UUID}/disk.config`,
      format: 'raw',
      device: 'cdrom',
      bus: 'ide',
      target: 'hdd',
      readonly: true,
    },
    {
      kind: 'iscsi',
      iqn: 'iqn.2026-11.org.homestack:volume-x',
      lun: 1,
      host: '10.0.0.5',
      port: 3260,
      auth: { username: 'chapuser', secretUsage: `homestack-volume-${VOL}` },
      bus: 'virtio',
      target: 'vdb',
      volumeId: VOL,
    },
  ],
  nics: [
    {
      portId: PORT,
      mac: '52:54:00:10:01:11',
      mtu: 1450,
      vifType: 'ovs',
      bridge: 'br-int',
      tap: 'tap10011000-00',
      model: 'virtio',
    },
    {
      portId: '20000000-0000-4000-8000-000000000022',
      mac: '52:54:00:AA:BB:CC',
      mtu: 1500,
      vifType: 'tap',
      bridge: 'br-int',
      tap: 'tap20000000-00',
      model: 'virtio',
    },
  ],
  consoleLog: `/var/lib/homestack-agent/instances/${UUID}/console.log`,
  vncListen: '192.0.2.10',
  meta: { projectId: 'p1', createdAt: '2026-11-22T08:00:00.000Z' },
};

describe('domain XML builder', () => {
  it('matches the golden file for a guest with image disk, config drive, iSCSI volume and two NICs', () => {
    golden('domain-full.xml', buildDomainXml(full));
  });

  it('matches the golden file for a minimal KVM guest without VNC', () => {
    golden(
      'domain-kvm-minimal.xml',
      buildDomainXml({ ...full, virtType: 'kvm', disks: [full.disks[0]!], nics: [], vncListen: null, title: 'm' }),
    );
  });

  it('produces well-formed XML that reads back to the same facts', () => {
    const xml = buildDomainXml(full);
    expect(() => parseXml(xml)).not.toThrow();
    const f = readDomainXml(xml);
    expect(f.homestackUuid).toBe(UUID);
    expect(f.name).toBe(`instance-${UUID}`);
    expect(f.memoryMb).toBe(256);
    expect(f.volumes).toEqual({ [VOL]: 'vdb' });
    expect(f.volumeSecrets).toEqual({ [VOL]: `homestack-volume-${VOL}` });
    expect(f.ports.map((p) => [p.portId, p.tap])).toEqual([
      [PORT, 'tap10011000-00'],
      ['20000000-0000-4000-8000-000000000022', 'tap20000000-00'],
    ]);
    expect(f.targets).toEqual(['vda', 'hdd', 'vdb']);
    expect(f.consoleLog).toBe(full.consoleLog);
    expect(parseXml(xml).children.find((c) => c.name === 'title')!.text).toBe('web <1> & "co"');
  });

  it('renders the userspace-datapath NIC essentials', () => {
    const xml = buildDomainXml(full);
    expect(xml).toContain("<parameters interfaceid='10011000-0000-4000-8000-000000000011'/>");
    expect(xml).toContain("<host csum='off'/>");
    expect(xml).toContain("<target dev='tap10011000-00'/>");
    expect(xml).toContain("<mtu size='1450'/>");
    expect(xml).toContain("<memballoon model='none'/>");
    expect(xml).toContain('<on_poweroff>destroy</on_poweroff>');
  });

  it('renders an attachable iSCSI disk without boot order and a secret document', () => {
    golden(
      'disk-iscsi-noauth.xml',
      diskXml({
        kind: 'iscsi',
        iqn: 'iqn.2026-11.org.homestack:v',
        lun: 0,
        host: '::1',
        port: 3260,
        bus: 'virtio',
        target: 'vdc',
        volumeId: VOL,
      }) + '\n',
    );
    golden('secret-iscsi.xml', iscsiSecretXml('11111111-2222-4333-8444-555555555555', `homestack-volume-${VOL}`, 'CHAP secret'));
  });
});

describe('reading libvirt XML', () => {
  it('reads a captured running domain (dumpxml)', () => {
    const f = readDomainXml(readFileSync(new URL('./testdata/libvirt-dumpxml-running.xml', import.meta.url), 'utf8'));
    expect(f.homestackUuid).toBe(UUID);
    expect(f.vcpus).toBe(1);
    expect(f.memoryMb).toBe(192);
    expect(f.fileDisks.map((d) => [d.target, d.device, d.format])).toEqual([
      ['vda', 'disk', 'qcow2'],
      ['hdd', 'cdrom', 'raw'],
    ]);
    expect(f.vnc).toEqual({ port: 5900, listen: '127.0.0.1' });
    expect(f.consoleLog).toMatch(/console\.log$/);
    expect(f.ports).toEqual([]);
    expect(f.volumes).toEqual({});
  });

  it('VNC: the display listens on compute.console_host without a password; a shut-off domain (port -1) has none', () => {
    const xml = buildDomainXml({ ...full, vncListen: '127.0.0.1' });
    expect(xml).toContain("<graphics type='vnc' autoport='yes' listen='127.0.0.1'>");
    expect(xml).toMatch(/<video>\s*<model type='cirrus'\/>/);
    expect(xml).not.toContain('passwd');
    const live = readFileSync(new URL('./testdata/libvirt-dumpxml-running.xml', import.meta.url), 'utf8');
    expect(readDomainXml(live.replace("port='5900'", "port='5917'")).vnc).toEqual({ port: 5917, listen: '127.0.0.1' });
    expect(readDomainXml(live.replace("port='5900'", "port='-1'")).vnc).toBeNull();
  });

  it('treats a domain without our marker as foreign', () => {
    expect(readDomainXml("<domain type='qemu'><name>x</name><uuid>u</uuid><devices/></domain>").homestackUuid).toBeNull();
  });

  it('picks the next free virtio target', () => {
    expect(nextVirtioTarget(['vda', 'hdd'])).toBe('vdb');
    expect(nextVirtioTarget(['vda', 'vdb', 'vdc'])).toBe('vdd');
    const many = Array.from({ length: 26 }, (_, i) => `vd${String.fromCharCode(97 + i)}`);
    expect(nextVirtioTarget(many)).toBe('vdaa');
  });

  it('rejects malformed XML', () => {
    expect(() => parseXml('<a><b></a>')).toThrow();
    expect(() => parseXml('<a>')).toThrow();
  });
});
