import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBackend } from '../../agents/volume/file.js';
import { TgtTarget } from '../../agents/volume/tgt.js';
import { makeRunner } from '../../shared/exec/run.js';
import { tgtadm } from '../../shared/tools/tgtadm.js';
import { volumeCloud, type VolumeCloud } from './testing/kit.js';

/**
 * The controller's attach flow against a real volume agent app (file back end + tgt),
 * read through QEMU's own iSCSI initiator with the CHAP credentials the facade hands
 * to compute (what libvirt would use): root, tgtd and qemu-img with the iSCSI driver.
 */
const run = makeRunner();
const pgrep = () => execFileSync('sh', ['-c', 'pgrep -x tgtd || true']).toString().trim();
const why =
  process.env.SYSTEM_TESTS !== '1'
    ? 'SYSTEM_TESTS=1 is not set'
    : process.getuid?.() !== 0
      ? 'not root'
      : (() => {
          try {
            execFileSync('which', ['tgtd', 'tgtadm', 'qemu-img'], { stdio: 'ignore' });
            return '';
          } catch {
            return 'tgt or qemu-img missing';
          }
        })();
if (why) console.log(`[skip] volume attach system test: ${why}`);
const runId = `t${randomBytes(3).toString('hex')}`;
const PREFIX = `iqn.2026-11.org.homestack.${runId}`;

async function readFirstSector(
  dir: string,
  d: { target_iqn: string; auth_username?: string; auth_password?: string },
  initiator: string,
): Promise<string> {
  const pw = join(dir, `pw-${randomBytes(4).toString('hex')}`);
  writeFileSync(pw, d.auth_password ?? '', { mode: 0o600 });
  const out = join(dir, `sec-${randomBytes(4).toString('hex')}`);
  await run(
    'qemu-img',
    [
      'dd',
      '--object',
      `secret,id=c0,file=${pw}`,
      '--image-opts',
      '-O',
      'raw',
      'bs=512',
      'count=1',
      `if=driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:3260,file.target=${d.target_iqn},file.lun=1,file.initiator-name=${initiator},file.user=${d.auth_username},file.password-secret=c0`,
      `of=${out}`,
    ],
    { timeoutMs: 60_000 },
  );
  return execFileSync('head', ['-c', '64', out]).toString().replace(/\0+$/, '');
}

describe.skipIf(!!why)('attach through the controller to a real tgt export', () => {
  let c: VolumeCloud;
  let dir: string;
  let started: number | null = null;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${runId}-`));
    if (!pgrep()) {
      execFileSync('tgtd', []);
      started = Number(execFileSync('sh', ['-c', 'pgrep -xn tgtd']).toString().trim());
      await new Promise((r) => setTimeout(r, 500));
    }
    const backend = new FileBackend({ dir: join(dir, 'volumes'), run });
    c = await volumeCloud({
      backend,
      backendName: 'file',
      iscsi: new TgtTarget({ run, iqnPrefix: PREFIX, portalIp: '127.0.0.1' }),
    });
  });
  afterAll(async () => {
    await c?.close();
    const show = await tgtadm(run)
      .show()
      .catch(() => null);
    for (const t of show?.targets.filter((x) => x.iqn.startsWith(PREFIX)) ?? [])
      await tgtadm(run)
        .deleteTarget(t.tid)
        .catch(() => {});
    if (started) process.kill(started, 'SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('volume from a qcow2 image, attached with CHAP, data read by QEMU, detached (credentials revoked), deleted (no target left)', async () => {
    // A qcow2 image whose first sector says who wrote it.
    const raw = join(dir, 'src.raw');
    writeFileSync(raw, `HOMESTACK-${runId}`);
    await run('truncate', ['-s', '1M', raw]);
    const qcow = join(dir, 'src.qcow2');
    await run('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, qcow]);
    const auth = c.app.homestack.auth.validator.validate(c.admin);
    const images = c.app.homestack.deps.facades.images!;
    const rec = images.createRecord(auth, {
      name: `${runId}-img`,
      owner: auth.projectId!,
      disk_format: 'qcow2',
      container_format: 'bare',
      visibility: 'private',
    });
    const { createReadStream } = await import('node:fs');
    await images.upload(rec.id, createReadStream(qcow));

    const P = `/volume/v3/${c.adminProjectId}`;
    const r = await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, imageRef: rec.id, name: `${runId}-v` } });
    expect(r.status).toBe(202);
    const t0 = performance.now();
    const v = await c.waitStatus(r.body.volume.id, c.admin, 'available');
    console.log(
      `[figures] 1 GiB volume from a 1 MiB qcow2 image (download + convert + export): ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect(v.bootable).toBe('true');

    const initiator = `iqn.2005-03.org.homestack:${runId}-cmp`;
    const facade = c.app.homestack.deps.facades.volumes!;
    const t1 = performance.now();
    const { attachmentId, connection } = await facade.attach(null, v.id, {
      serverId: '0b5e3f9c-1f5c-4c0e-9d3a-7e1c2a9b8d01',
      host: 'vol1',
      initiator,
      device: '/dev/vdb',
    });
    console.log(`[figures] attach (reserve + tgt export + CHAP account + ACL): ${(performance.now() - t1).toFixed(0)} ms`);
    expect(connection.data.target_iqn).toBe(`${PREFIX}:volume-${v.id}`);
    expect(await readFirstSector(dir, connection.data, initiator)).toBe(`HOMESTACK-${runId}`);
    await expect(readFirstSector(dir, { ...connection.data, auth_password: 'not-the-password-1' }, initiator)).rejects.toThrow();
    facade.attachComplete(attachmentId, '/dev/vdb');
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume.status).toBe('in-use');

    await facade.detach(attachmentId);
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).body.volume).toMatchObject({
      status: 'available',
      attachments: [],
    });
    await expect(readFirstSector(dir, connection.data, initiator)).rejects.toThrow();
    const show = await tgtadm(run).show();
    expect(show.accounts).not.toContain(connection.data.auth_username);

    expect((await c.req('DELETE', `${P}/volumes/${v.id}`, c.admin)).status).toBe(202);
    await c.settle();
    const after = await tgtadm(run).show();
    expect(after.targets.filter((t) => t.iqn.startsWith(PREFIX))).toEqual([]);
    expect((await c.req('GET', `${P}/volumes/${v.id}`, c.admin)).status).toBe(404);
  });
});
