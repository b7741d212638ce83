import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tapName, type InstanceSpec, type IscsiConnectionInfo } from '../../shared/agent/compute.js';
import { makeRunner } from '../../shared/exec/run.js';
import { LibvirtDriver } from './libvirt.js';

/**
 * Devices on a real TCG guest: a NIC plugged by libvirt into a throwaway OVS bridge
 * (iface-id set, port removed again on destroy), a hot-plugged tap NIC, and an iSCSI
 * volume with CHAP served by the host's tgtd, read by QEMU's own initiator (this
 * machine has no kernel initiator) and seen by the guest as /dev/vdb.
 * Needs root, libvirtd, tgtd listening on 3260, ovs-vswitchd and the test image.
 */

const IMAGE = resolve(
  process.env.ACC_GUEST_IMAGE ?? new URL('../../build/test-image/homestack-guest.qcow2', import.meta.url).pathname,
);
const why =
  process.env.SYSTEM_TESTS !== '1'
    ? 'SYSTEM_TESTS is not 1'
    : process.getuid?.() !== 0
      ? 'not root'
      : !existsSync('/run/libvirt/libvirt-sock')
        ? 'libvirtd is not running (libvirt.system.test.ts starts it)'
        : !existsSync('/run/tgtd.pid') && !existsSync('/var/run/tgtd.pid')
          ? 'tgtd is not running'
          : !existsSync('/run/openvswitch/db.sock')
            ? 'ovs-vswitchd is not running'
            : !existsSync(IMAGE)
              ? `no test image at ${IMAGE}`
              : '';
if (why) console.log(`devices.system.test: skipped: ${why}`);

const run = makeRunner();
const runId = randomBytes(3).toString('hex');
const BR = `t${runId}-br`;
const TID = 9000 + (parseInt(runId, 16) % 900);
const IQN = `iqn.2026-11.org.homestack.test:t${runId}`;
const CHAP = { user: `t${runId}u`, pass: `t${runId}-secret-pw` };

describe.skipIf(Boolean(why))('LibvirtDriver devices on a real guest', () => {
  let dir = '';
  let driver: LibvirtDriver;
  const uuid = randomUUID();
  const volumeId = randomUUID();
  const portId = randomUUID();
  const port2 = randomUUID();
  const imageId = randomUUID();
  const bfvUuid = randomUUID();
  const bootVolumeId = randomUUID();

  beforeAll(async () => {
    const kvmMode = statSync('/dev/kvm', { throwIfNoEntry: false })?.mode;
    if (kvmMode !== undefined && (kvmMode & 0o060) !== 0o060) {
      // see LibvirtDriver.init
      const gid = /^kvm:[^:]*:(\d+):/m.exec(readFileSync('/etc/group', 'utf8'))?.[1];
      if (gid) await chown('/dev/kvm', 0, Number(gid));
      await chmod('/dev/kvm', 0o660);
    }
    dir = await mkdtemp(`/tmp/t${runId}-devices-`);
    await chmod(dir, 0o755);
    await run('ovs-vsctl', ['--timeout=10', '--may-exist', 'add-br', BR, '--', 'set', 'bridge', BR, 'datapath_type=netdev']);
    await run('truncate', ['-s', '64M', join(dir, 'vol.img')]);
    const tgt = (args: string[]) => run('tgtadm', ['--lld', 'iscsi', ...args]);
    await tgt(['--op', 'new', '--mode', 'target', '--tid', String(TID), '--targetname', IQN]);
    await tgt([
      '--op',
      'new',
      '--mode',
      'logicalunit',
      '--tid',
      String(TID),
      '--lun',
      '1',
      '--backing-store',
      join(dir, 'vol.img'),
    ]);
    await tgt(['--op', 'bind', '--mode', 'target', '--tid', String(TID), '--initiator-address', 'ALL']);
    await tgt(['--op', 'new', '--mode', 'account', '--user', CHAP.user, '--password', CHAP.pass]);
    await tgt(['--op', 'bind', '--mode', 'account', '--tid', String(TID), '--user', CHAP.user]);
    driver = new LibvirtDriver({
      uri: 'qemu:///system',
      virtType: 'auto',
      instancesDir: join(dir, 'instances'),
      imagesDir: join(dir, 'images'),
      consoleHost: '127.0.0.1',
      reservedMemoryMb: 0,
      isoTool: 'xorriso',
      run,
    });
    await driver.init();
  });

  afterAll(async () => {
    for (const u of [uuid, bfvUuid]) await driver?.destroy(u, { deleteDisks: true }).catch(() => {});
    await driver?.close();
    await run('tgtadm', ['--lld', 'iscsi', '--op', 'delete', '--mode', 'target', '--tid', String(TID), '--force']).catch(
      () => {},
    );
    await run('tgtadm', ['--lld', 'iscsi', '--op', 'delete', '--mode', 'account', '--user', CHAP.user]).catch(() => {});
    await run('ovs-vsctl', ['--timeout=10', '--if-exists', 'del-br', BR]).catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const lastDisks = (out: string) => [...out.matchAll(/^DISKS (.*)$/gm)].pop()?.[1] ?? '';

  async function waitConsole(re: RegExp, timeoutMs = 180_000, who = uuid): Promise<string> {
    const end = Date.now() + timeoutMs;
    let out = '';
    while (Date.now() < end) {
      out = (await driver.consoleLog(who, 1 << 20)).output;
      if (re.test(out)) return out;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`console never showed ${re}; tail:\n${out.slice(-1500)}`);
  }

  it('plugs NICs into OVS and attaches a CHAP iSCSI volume the guest can see', async () => {
    // Seed the image cache directly (downloads are covered by libvirt.system.test.ts).
    await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'qcow2', IMAGE, join(dir, 'images', `${imageId}.qcow2`)]);
    const spec: InstanceSpec = {
      uuid,
      name: `t${runId}-dev`,
      hostname: `t${runId}-dev`,
      vcpus: 1,
      memory_mb: 192,
      root_gb: 0,
      image: { id: imageId, download_url: 'http://127.0.0.1:9/never-fetched', token: 'x', checksum: null, disk_format: 'qcow2' },
      nics: [{ port_id: portId, mac: 'fa:16:3e:00:00:01', network_id: randomUUID(), mtu: 1450, vif_type: 'ovs', bridge: BR }],
      config_drive: {
        meta_data: { uuid, name: 'dev', hostname: `t${runId}-dev` },
        user_data: Buffer.from(
          "#!/bin/sh\nwhile true; do echo \"DISKS $(ls /dev/vd* 2>/dev/null | tr '\\n' ' ')\"; sleep 2; done\n",
        ).toString('base64'),
        network_data: { links: [], networks: [], services: [] },
      },
    };
    const sp = await driver.spawn(spec);
    expect(sp.imageCached).toBe(true);
    const tap = tapName(portId);
    const ids = (await run('ovs-vsctl', ['--timeout=10', 'get', 'Interface', tap, 'external_ids'])).stdout;
    expect(ids).toContain(`iface-id="${portId}"`);
    expect(ids).toContain('attached-mac="fa:16:3e:00:00:01"');
    expect((await run('ovs-vsctl', ['--timeout=10', 'get', 'Interface', tap, 'mtu'])).stdout.trim()).toBe('1450');
    const before = await waitConsole(/DISKS \/dev\/vda/);
    expect(lastDisks(before)).not.toContain('/dev/vdb');

    const conn: IscsiConnectionInfo = {
      driver_volume_type: 'iscsi',
      data: {
        target_iqn: IQN,
        target_portal: '127.0.0.1:3260',
        target_lun: 1,
        volume_id: volumeId,
        auth_method: 'CHAP',
        auth_username: CHAP.user,
        auth_password: CHAP.pass,
      },
    };
    const t0 = performance.now();
    expect(await driver.attachVolume(uuid, conn, null)).toBe('/dev/vdb');
    console.log(`attach iSCSI volume: ${Math.round(performance.now() - t0)} ms`);
    expect(await driver.attachVolume(uuid, conn, null)).toBe('/dev/vdb'); // idempotent
    expect((await driver.get(uuid))!.volumes).toEqual({ [volumeId]: 'vdb' });
    await waitConsole(/DISKS [^\n]*\/dev\/vdb/, 60_000);
    console.log(`guest sees: ${lastDisks((await driver.consoleLog(uuid, 4096)).output)}`);
    // The CHAP password never reaches argv, and the secret's value is not readable back.
    const secrets = (await run('virsh', ['-c', 'qemu:///system', 'secret-list'])).stdout;
    expect(secrets).toContain(`homestack-volume-${volumeId}`);
    expect(await driver.detachVolume(uuid, volumeId)).toBe(true);
    expect((await driver.get(uuid))!.volumes).toEqual({});
    expect((await run('virsh', ['-c', 'qemu:///system', 'secret-list'])).stdout).not.toContain(volumeId);
    expect(await driver.detachVolume(uuid, volumeId)).toBe(false);
    // The guest acknowledges the PCI unplug (ACPI hotplug) and the disk goes away.
    const t1 = Date.now();
    while (Date.now() - t1 < 30_000 && lastDisks((await driver.consoleLog(uuid, 4096)).output).includes('/dev/vdb'))
      await new Promise((r) => setTimeout(r, 1000));
    console.log(
      `after detach the guest sees: ${lastDisks((await driver.consoleLog(uuid, 4096)).output)} (${Date.now() - t1} ms)`,
    );

    const tap2 = await driver.plugVif(uuid, {
      port_id: port2,
      mac: 'fa:16:3e:00:00:02',
      network_id: randomUUID(),
      mtu: 1500,
      vif_type: 'tap',
    });
    expect(tap2).toBe(tapName(port2));
    expect(existsSync(`/sys/class/net/${tap2}`)).toBe(true);
    expect((await driver.get(uuid))!.ports).toEqual([portId, port2]);
    expect(await driver.unplugVif(uuid, port2)).toBe(true);
    expect(await driver.unplugVif(uuid, port2)).toBe(false);

    expect(await driver.destroy(uuid, { deleteDisks: true })).toBe(true);
    const left = await run('ovs-vsctl', ['--timeout=10', 'list-ports', BR]);
    expect(left.stdout.trim()).toBe('');
    await writeFile(join(dir, 'done'), '');
  });

  it('boots from a CHAP iSCSI volume (no local root disk)', async () => {
    await run('qemu-img', ['convert', '-f', 'qcow2', '-O', 'raw', IMAGE, join(dir, 'boot.img')]);
    await run('tgtadm', [
      '--lld',
      'iscsi',
      '--op',
      'new',
      '--mode',
      'logicalunit',
      '--tid',
      String(TID),
      '--lun',
      '2',
      '--backing-store',
      join(dir, 'boot.img'),
    ]);
    const sp = await driver.spawn({
      uuid: bfvUuid,
      name: `t${runId}-bfv`,
      hostname: `t${runId}-bfv`,
      vcpus: 1,
      memory_mb: 192,
      root_gb: 0,
      nics: [],
      boot_volume: {
        volume_id: bootVolumeId,
        connection: {
          driver_volume_type: 'iscsi',
          data: {
            target_iqn: IQN,
            target_portal: '127.0.0.1:3260',
            target_lun: 2,
            volume_id: bootVolumeId,
            auth_method: 'CHAP',
            auth_username: CHAP.user,
            auth_password: CHAP.pass,
          },
        },
      },
      config_drive: {
        meta_data: { uuid: bfvUuid, name: 'bfv', hostname: `t${runId}-bfv` },
        user_data: Buffer.from('#!/bin/sh\necho BFV-OK-$(hostname)\n').toString('base64'),
        network_data: { links: [], networks: [], services: [] },
      },
    });
    console.log(`boot-from-volume spawn: ${JSON.stringify(sp.timings)}`);
    expect(sp.instance.volumes).toEqual({ [bootVolumeId]: 'vda' });
    await waitConsole(new RegExp(`BFV-OK-t${runId}-bfv`), 180_000, bfvUuid);
    expect(existsSync(join(dir, 'instances', bfvUuid, 'disk'))).toBe(false);
    await expect(
      driver.snapshot(bfvUuid, { imageId: randomUUID(), uploadUrl: 'http://127.0.0.1:9/x', token: 't', diskFormat: 'qcow2' }),
    ).rejects.toMatchObject({ code: 'SnapshotFailed' });
    expect(await driver.destroy(bfvUuid, { deleteDisks: true })).toBe(true);
    expect((await run('virsh', ['-c', 'qemu:///system', 'secret-list'])).stdout).not.toContain(bootVolumeId);
  });
});
