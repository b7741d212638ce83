import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../exec/fake-runner.js';
import { migrateArgs, parseDomInfo, parseDomState, parseJobInfo, parseVersion, virsh, VirshError } from './virsh.js';

const U = '285450bd-5d75-4eac-a425-0c8dca9c4fe2';
const URI = ['-c', 'qemu:///system'];

describe('virsh output parsers (captured from libvirt 9.0 / virsh)', () => {
  it('domstate --reason', () => {
    expect(parseDomState('running (booted)\n\n')).toEqual({ state: 'running', reason: 'booted' });
    expect(parseDomState('shut off (destroyed)\n')).toEqual({ state: 'shut off', reason: 'destroyed' });
    expect(parseDomState('shut off (saved)\n')).toEqual({ state: 'shut off', reason: 'saved' });
    expect(parseDomState('paused (user)\n')).toEqual({ state: 'paused', reason: 'user' });
    expect(parseDomState('in shutdown (user)\n')).toEqual({ state: 'in shutdown', reason: 'user' });
    expect(parseDomState('running\n')).toEqual({ state: 'running', reason: null });
    expect(() => parseDomState('weird\n')).toThrow(VirshError);
  });

  it('dominfo and version', () => {
    const info = parseDomInfo(
      'Id:             -\nName:           instance-x\nUUID:           ' + U + '\nState:          shut off\nManaged save:   yes\n',
    );
    expect(info['Managed save']).toBe('yes');
    expect(info.UUID).toBe(U);
    expect(
      parseVersion(
        'Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.22\n',
      ),
    ).toEqual({ hypervisor: 'QEMU', version: 7002022, libvirt: 9000000 });
  });
});

describe('virsh argv', () => {
  it('passes the URI, addresses domains by uuid, XML and secrets by file', async () => {
    const f = new FakeRunner().on((c) => c.args.includes('dominfo'), { stdout: 'Managed save:   no\n' });
    const v = virsh(f.run, { uri: 'qemu:///system' });
    await v.reboot(U);
    await v.reset(U);
    await v.managedSave(U);
    await v.undefine(U);
    await v.attachDevice(U, '/tmp/x/disk.xml', { live: true, config: true });
    await v.detachDeviceAlias(U, `ua-vol-${U}`, { config: true });
    await v.secretSetValue(U, '/tmp/x/secret.value');
    expect(await v.hasManagedSave(U)).toBe(false);
    expect(f.calls.map((c) => [c.cmd, ...c.args])).toEqual([
      ['virsh', ...URI, 'reboot', U, '--mode', 'acpi'],
      ['virsh', ...URI, 'reset', U],
      ['virsh', ...URI, 'managedsave', U],
      ['virsh', ...URI, 'undefine', U, '--managed-save', '--nvram'],
      ['virsh', ...URI, 'attach-device', U, '/tmp/x/disk.xml', '--live', '--config'],
      ['virsh', ...URI, 'detach-device-alias', U, `ua-vol-${U}`, '--config'],
      ['virsh', ...URI, 'secret-set-value', U, '--file', '/tmp/x/secret.value', '--plain'],
      ['virsh', ...URI, 'dominfo', U],
    ]);
  });

  it('refuses identifiers that could be options or paths', () => {
    const v = virsh(new FakeRunner().run, { uri: 'qemu:///system' });
    expect(() => v.reset('--all')).toThrow(VirshError);
    expect(() => v.attachDevice(U, 'relative.xml', { live: true })).toThrow(VirshError);
    expect(() => v.detachDeviceAlias(U, 'net0', { live: true })).toThrow(/alias/);
  });

  it('maps "not found" and "not running" to typed errors; secret-undefine of an absent secret succeeds', async () => {
    const f = new FakeRunner()
      .on((c) => c.args.includes('reset'), new Error("error: failed to get domain '" + U + "'"))
      .on((c) => c.args.includes('managedsave'), new Error('error: Requested operation is not valid: domain is not running'))
      .on(
        (c) => c.args.includes('secret-undefine'),
        new Error("error: failed to get secret '" + U + "'\nerror: Secret not found: no secret with matching uuid"),
      );
    const v = virsh(f.run, { uri: 'qemu:///system' });
    await expect(v.reset(U)).rejects.toMatchObject({ notFound: true });
    await expect(v.managedSave(U)).rejects.toMatchObject({ invalidState: true, notFound: false });
    expect(await v.secretUndefine(U)).toBe(false);
  });
});

describe('virsh migration helpers', () => {
  it('parses domjobinfo --rawstats (captured from libvirt 9.0 after a migration)', () => {
    const out = `Job type: 3

operation: 4
time_elapsed: 32579
time_elapsed_net: 32436
downtime: 792
downtime_net: 649
setup_time: 55
data_total: 206381056
data_processed: 103997626
data_remaining: 0
memory_total: 206381056
memory_processed: 103997626
memory_remaining: 0
memory_bps: 7887358
disk_total: 0
disk_processed: 0
disk_remaining: 0
`;
    expect(parseJobInfo(out)).toEqual({
      type: '3',
      operation: '4',
      timeElapsedMs: 32579,
      memoryTotal: 206381056,
      memoryProcessed: 103997626,
      memoryRemaining: 0,
      diskTotal: 0,
      diskProcessed: 0,
      diskRemaining: 0,
      downtimeMs: 792,
    });
    expect(parseJobInfo('Job type: 0\n\n')).toBeNull();
    expect(parseJobInfo('Job type:         None\n')).toBeNull();
  });

  it('builds a peer-to-peer TLS migration that copies only the local root disk', () => {
    expect(
      migrateArgs('u1', {
        destUri: 'qemu+tls://198.51.100.12/system',
        dataUri: 'tcp://198.51.100.12',
        xmlFile: '/tmp/x.xml',
        copyStorage: 'inc',
        migrateDisks: ['vda'],
        timeoutMs: 1000,
      }),
    ).toEqual([
      'migrate',
      '--live',
      '--p2p',
      '--persistent',
      '--undefinesource',
      '--tls',
      '--abort-on-error',
      '--copy-storage-inc',
      '--migrate-disks',
      'vda',
      '--xml',
      '/tmp/x.xml',
      '--migrateuri',
      'tcp://198.51.100.12',
      '--disks-uri',
      'tcp://198.51.100.12',
      'u1',
      'qemu+tls://198.51.100.12/system',
    ]);
    expect(() => migrateArgs('u1', { destUri: 'qemu+tcp://x/system', copyStorage: 'none', timeoutMs: 1 })).toThrow(
      /bad migration URI/,
    );
    expect(() => migrateArgs('u1', { destUri: 'qemu+tls://x;rm/system', copyStorage: 'none', timeoutMs: 1 })).toThrow(
      /bad migration URI/,
    );
  });
});
