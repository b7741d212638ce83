import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PowerState, type InstanceSpec } from '../../shared/agent/compute.js';
import { makeRunner } from '../../shared/exec/run.js';
import { LibvirtDriver } from './libvirt.js';

/**
 * A real tiny guest under libvirt/QEMU (TCG here): spawn from the project's test image
 * with a config drive and no NIC, read the console until user_data's marker appears,
 * then stop (ACPI), start, reboot, pause/unpause, suspend/resume, snapshot, destroy.
 * Needs root, libvirtd + virtlogd (started here when not running) and
 * build/test-image/homestack-guest.qcow2 (scripts/build-test-image.sh).
 */

const IMAGE = resolve(
  process.env.ACC_GUEST_IMAGE ?? new URL('../../build/test-image/homestack-guest.qcow2', import.meta.url).pathname,
);
const why =
  process.env.SYSTEM_TESTS !== '1'
    ? 'SYSTEM_TESTS is not 1'
    : process.getuid?.() !== 0
      ? 'not root'
      : !existsSync('/usr/bin/virsh')
        ? 'virsh is not installed'
        : !existsSync(IMAGE)
          ? `no test image at ${IMAGE} (run scripts/build-test-image.sh)`
          : '';
if (why) console.log(`libvirt.system.test: skipped: ${why}`);

const run = makeRunner();
const runId = randomBytes(3).toString('hex');
const TOKEN = `tok-${runId}`;

async function ensureDaemons(): Promise<void> {
  // Debian's udev rule (absent in this container) gives /dev/kvm to group kvm; without
  // it libvirt re-probes QEMU on every define (see LibvirtDriver.init).
  if (existsSync('/dev/kvm') && (statSync('/dev/kvm').mode & 0o060) !== 0o060) {
    const kvmGid = /^kvm:[^:]*:(\d+):/m.exec(readFileSync('/etc/group', 'utf8'))?.[1];
    if (kvmGid) await chown('/dev/kvm', 0, Number(kvmGid));
    await chmod('/dev/kvm', 0o660);
  }
  if (!existsSync('/run/virtlogd-sock') && !existsSync('/run/libvirt/virtlogd-sock')) await run('virtlogd', ['-d']);
  if (!existsSync('/run/libvirt/libvirt-sock')) await run('libvirtd', ['-d']);
  for (let i = 0; i < 50 && !existsSync('/run/libvirt/libvirt-sock'); i++) await new Promise((r) => setTimeout(r, 100));
}

describe.skipIf(Boolean(why))('LibvirtDriver on a real guest', () => {
  let dir = '';
  let server: Server;
  let base = '';
  const uploads: Array<{ url: string; md5: string; size: number }> = [];
  let driver: LibvirtDriver;
  const imageId = randomUUID();
  const md5 = () => createHash('md5').update(readFileSync(IMAGE)).digest('hex');

  beforeAll(async () => {
    await ensureDaemons();
    dir = await mkdtemp(`/tmp/t${runId}-compute-`);
    // Left 0700 on purpose (like the agent's data_dir): init must let QEMU traverse it.
    server = createServer((req, res) => {
      if (req.headers['x-auth-token'] !== TOKEN) {
        res.writeHead(401).end();
        return;
      }
      const stored = join(dir, `upload-${(req.url ?? '').split('/')[4] ?? ''}`);
      if (req.method === 'GET' && req.url === `/image/v2/images/${imageId}/file`) {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': statSync(IMAGE).size });
        createReadStream(IMAGE).pipe(res);
      } else if (req.method === 'GET' && existsSync(stored)) {
        // an uploaded snapshot
        createReadStream(stored).pipe(res);
      } else if (req.method === 'PUT') {
        const h = createHash('md5');
        let size = 0;
        const file = createWriteStream(stored);
        req.pipe(file);
        req.on('data', (c: Buffer) => {
          h.update(c);
          size += c.length;
        });
        file.on('finish', () => {
          uploads.push({ url: req.url!, md5: h.digest('hex'), size });
          res.writeHead(204).end();
        });
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const addr = server.address() as { port: number };
    base = `http://127.0.0.1:${addr.port}`;
    driver = new LibvirtDriver({
      uri: 'qemu:///system',
      virtType: 'auto',
      instancesDir: join(dir, 'instances'),
      imagesDir: join(dir, 'images'),
      consoleHost: '127.0.0.1',
      reservedMemoryMb: 0,
      isoTool: 'genisoimage',
      run,
    });
    const caps = await driver.init();
    console.log(`host: ${JSON.stringify(caps)}`);
    expect(statSync(dir).mode & 0o777).toBe(0o710);
  });

  afterAll(async () => {
    for (const u of created) await driver?.destroy(u, { deleteDisks: true }).catch(() => {});
    await driver?.close();
    server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const created: string[] = [];
  const spec = (uuid: string, marker: string, checksum: string | null = md5()): InstanceSpec => ({
    uuid,
    name: `t${runId}-vm`,
    hostname: `t${runId}-vm`,
    vcpus: 1,
    memory_mb: 192,
    root_gb: 1,
    image: { id: imageId, download_url: `${base}/image/v2/images/${imageId}/file`, token: TOKEN, checksum, disk_format: 'qcow2' },
    nics: [],
    config_drive: {
      meta_data: {
        uuid,
        name: `t${runId}-vm`,
        hostname: `t${runId}-host`,
        public_keys: {},
        launch_index: 0,
        availability_zone: 'nova',
      },
      user_data: Buffer.from(`#!/bin/sh\necho ${marker}-$(hostname)\n`).toString('base64'),
      network_data: { links: [], networks: [], services: [] },
    },
  });

  async function waitConsole(uuid: string, re: RegExp, count = 1, timeoutMs = 240_000): Promise<string> {
    const end = Date.now() + timeoutMs;
    let out = '';
    while (Date.now() < end) {
      out = (await driver.consoleLog(uuid, 1 << 20)).output;
      if ((out.match(new RegExp(re.source, 'g')) ?? []).length >= count) return out;
      await new Promise((r) => setTimeout(r, 500));
    }
    throw new Error(`console never showed ${re} x${count}; tail:\n${out.slice(-2000)}`);
  }

  it('a failed spawn (bad checksum) leaves nothing behind', async () => {
    const uuid = randomUUID();
    await expect(driver.spawn(spec(uuid, 'X', '0'.repeat(32)))).rejects.toThrow(/ChecksumMismatch|MD5/);
    expect(await driver.get(uuid)).toBeNull();
    expect(existsSync(join(dir, 'instances', uuid))).toBe(false);
    expect((await driver.cachedImages()).length).toBe(0);
    // A directory without a domain is reported as an orphan, and destroy cleans it.
    const stray = randomUUID();
    await mkdir(join(dir, 'instances', stray));
    expect((await driver.list()).orphans).toEqual([stray]);
    expect(await driver.destroy(stray, { deleteDisks: true })).toBe(false);
    expect((await driver.list()).orphans).toEqual([]);
  });

  it('boots, runs user_data from the config drive, and goes through every power operation', async () => {
    const uuid = randomUUID();
    const marker = `HSMARK${runId}`;
    created.push(uuid);
    const r = await driver.spawn(spec(uuid, marker));
    console.log(`spawn (image fetched): ${JSON.stringify(r.timings)}`);
    expect(r.imageCached).toBe(false);
    expect(r.instance.power_state).toBe(PowerState.RUNNING);
    expect(existsSync(join(dir, 'instances', uuid, 'disk'))).toBe(true);
    const out = await waitConsole(uuid, new RegExp(`${marker}-t${runId}-host`));
    expect(out).toContain('HOMESTACK-GUEST-UP');
    const vnc = await driver.vncConsole(uuid);
    expect(vnc.host).toBe('127.0.0.1');
    expect(vnc.port).toBeGreaterThanOrEqual(5900);
    const listed = await driver.list();
    expect(listed.instances.map((i) => i.uuid)).toContain(uuid);
    expect(listed.orphans).toEqual([]);

    let t = performance.now();
    const off = await driver.powerOff(uuid, { timeoutSec: 60 });
    console.log(`ACPI stop: ${Math.round(performance.now() - t)} ms, forced=${off.forced}`);
    expect(off.forced).toBe(false);
    expect(off.instance.power_state).toBe(PowerState.SHUTDOWN);
    expect((await driver.consoleLog(uuid, 1 << 20)).output).toContain('HOMESTACK-GUEST-DOWN');

    expect((await driver.powerOn(uuid)).power_state).toBe(PowerState.RUNNING);
    await waitConsole(uuid, /HOMESTACK-GUEST-UP/, 2);

    t = performance.now();
    expect((await driver.reboot(uuid, { hard: false, timeoutSec: 60 })).power_state).toBe(PowerState.RUNNING);
    console.log(`soft reboot: ${Math.round(performance.now() - t)} ms`);
    await waitConsole(uuid, /HOMESTACK-GUEST-UP/, 3);
    expect((await driver.reboot(uuid, { hard: true })).power_state).toBe(PowerState.RUNNING);
    await waitConsole(uuid, /HOMESTACK-GUEST-UP/, 4);

    expect((await driver.pause(uuid)).power_state).toBe(PowerState.PAUSED);
    await expect(driver.suspend(uuid).then((s) => s.suspended_to_disk)).resolves.toBe(true);
    expect((await driver.get(uuid))!.power_state).toBe(PowerState.SHUTDOWN);
    await expect(driver.unpause(uuid)).rejects.toThrow(/not paused/);
    const resumed = await driver.resume(uuid);
    expect(resumed.suspended_to_disk).toBe(false);
    expect(resumed.power_state).toBe(PowerState.PAUSED); // it was paused when saved
    expect((await driver.unpause(uuid)).power_state).toBe(PowerState.RUNNING);

    const snapId = randomUUID();
    const snap = await driver.snapshot(uuid, {
      imageId: snapId,
      uploadUrl: `${base}/image/v2/images/${snapId}/file`,
      token: TOKEN,
      diskFormat: 'qcow2',
    });
    console.log(`snapshot: ${snap.size} bytes, guest paused ${snap.pausedMs} ms`);
    expect(uploads.find((u) => u.url.includes(snapId))).toEqual({
      url: `/image/v2/images/${snapId}/file`,
      md5: snap.checksum,
      size: snap.size,
    });
    expect((await driver.get(uuid))!.power_state).toBe(PowerState.RUNNING);

    // The snapshot is a bootable image: a second server boots from it (fetched, cached, overlaid).
    const fromSnap = randomUUID();
    created.push(fromSnap);
    const s2 = spec(fromSnap, `SNAPBOOT${runId}`, snap.checksum);
    s2.image = { ...s2.image!, id: snapId, download_url: `${base}/image/v2/images/${snapId}/file` };
    expect((await driver.spawn(s2)).imageCached).toBe(false);
    await waitConsole(fromSnap, new RegExp(`SNAPBOOT${runId}`));
    expect(await driver.destroy(fromSnap, { deleteDisks: true })).toBe(true);
    expect(await driver.evictImage(snapId)).toBe(true);

    expect(await driver.destroy(uuid, { deleteDisks: true })).toBe(true);
    expect(await driver.get(uuid)).toBeNull();
    expect(existsSync(join(dir, 'instances', uuid))).toBe(false);
    expect((await run('virsh', ['-c', 'qemu:///system', 'list', '--all', '--uuid'])).stdout).not.toContain(uuid);
    expect(await driver.destroy(uuid, { deleteDisks: true })).toBe(false);
  });

  it('measures spawn from the cached image (time inside libvirt)', async () => {
    const starts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const uuid = randomUUID();
      created.push(uuid);
      const r = await driver.spawn(spec(uuid, 'M'));
      expect(r.imageCached).toBe(true);
      starts.push(r.timings.libvirt_start_ms);
      console.log(`spawn (cached image): ${JSON.stringify(r.timings)}`);
      await driver.destroy(uuid, { deleteDisks: true });
    }
    starts.sort((a, b) => a - b);
    console.log(`libvirt domain start: median ${starts[1]} ms (of ${starts.join(', ')})`);
    const imgs = await driver.cachedImages();
    expect(imgs.map((i) => i.imageId)).toEqual([imageId]);
    expect(imgs[0]!.usedBy).toEqual([]);
    expect(await driver.evictImage(imageId)).toBe(true);
  });
});
