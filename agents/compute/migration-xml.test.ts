import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { destinationXml, targetOfFile } from './migration-xml.js';

const dir = '/var/lib/homestack-agent/instances/e07d39a0-2858-496d-839c-a1f17e3b309b';
// `virsh dumpxml --migratable` of a running instance, libvirt 9.0 (paths made generic)
const captured = readFileSync(join(import.meta.dirname, 'testdata', 'migratable-libvirt9.xml'), 'utf8');
// A volume as libvirt prints it after a hot-plug with CHAP
const volume = `    <disk type='network' device='disk'>
      <driver name='qemu' type='raw'/>
      <source protocol='iscsi' name='iqn.2026-11.org.homestack:volume-0a2e9c30-1d51-4a60-9b4e-51cfae0a7c41/1'>
        <host name='198.51.100.11' port='3260'/>
      </source>
      <auth username='hs-11111111-2222-4333-8444-555555555555'>
        <secret type='iscsi' usage='homestack-volume-0a2e9c30-1d51-4a60-9b4e-51cfae0a7c41'/>
      </auth>
      <target dev='vdb' bus='virtio'/>
      <serial>0a2e9c30-1d51-4a60-9b4e-51cfae0a7c41</serial>
      <alias name='ua-vol-0a2e9c30-1d51-4a60-9b4e-51cfae0a7c41'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x06' function='0x0'/>
    </disk>
`;
const xml = captured.replace('    <controller', `${volume}    <controller`);

describe('the destination domain of a live migration', () => {
  const out = destinationXml(xml, {
    fromDir: dir,
    toDir: '/srv/other/instances/e07d39a0-2858-496d-839c-a1f17e3b309b',
    consoleHost: '10.0.0.9',
    chapUsers: { '0a2e9c30-1d51-4a60-9b4e-51cfae0a7c41': 'hs-99999999-2222-4333-8444-555555555555' },
  });

  it('moves the root disk, the config drive and the console log to the destination directory', () => {
    expect(out).not.toContain(dir);
    expect(out).toContain("<source file='/srv/other/instances/e07d39a0-2858-496d-839c-a1f17e3b309b/disk'/>");
    expect(out).toContain("<source file='/srv/other/instances/e07d39a0-2858-496d-839c-a1f17e3b309b/disk.config'/>");
    expect(out.match(/<log file='\/srv\/other\/instances\/[^']+\/console\.log'/g)).toHaveLength(2);
  });

  it('listens for VNC on the destination and logs volumes in as its attachment', () => {
    expect(out).toContain("<graphics type='vnc' port='-1' autoport='yes' listen='10.0.0.9'>");
    expect(out).toContain("<listen type='address' address='10.0.0.9'/>");
    expect(out).toContain("<auth username='hs-99999999-2222-4333-8444-555555555555'>");
    expect(out).not.toContain('hs-11111111');
  });

  it('changes nothing the guest sees', () => {
    const strip = (s: string) =>
      s
        .replace(/file='[^']*'/g, '')
        .replace(/listen='[^']*'|address='\d+\.\d+\.\d+\.\d+'/g, '')
        .replace(/username='[^']*'/g, '');
    expect(strip(out)).toBe(strip(xml));
  });

  it('finds the target of the root disk (the one disk to copy)', () => {
    expect(targetOfFile(xml, `${dir}/disk`)).toBe('vda');
    expect(targetOfFile(xml, `${dir}/disk.config`)).toBe('hdd');
    expect(targetOfFile(xml, '/nowhere')).toBeNull();
  });
});
