import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileBackend } from '../../../agents/volume/file.js';
import { makeRunner } from '../../../shared/exec/run.js';
import { computeCloud, type ComputeCloud } from '../../compute/testing/kit.js';
import { volumeCtxOf } from '../../volumes/plugin.js';
import { createSchedule, nextRuns, runSchedule, settleSchedules } from '../../volumes/schedules.service.js';
import { volumeCloud } from '../../volumes/testing/kit.js';
import type { PageContext } from '../page.js';
import { checkSafe, FAKE_CSRF, XSS, XSS_ESCAPED } from '../testing/fake-api.js';
import { injectApi } from '../testing/inject-api.js';
import { instanceDetailPage } from './instance-detail.js';
import { volumesPage } from './volumes.js';

/**
 * The instance and volume pages show their backup schedules (issue 18, item 3): next
 * run, last result with a failure's reason. Rendered against the real in-memory
 * controller (GET os-backup-schedules), after real runs through the services.
 */
const pageCtx = (app: ComputeCloud['app'], token: string, projectId: string, isAdmin: boolean): PageContext => ({
  api: injectApi(app, token),
  csrf: FAKE_CSRF,
  params: {},
  query: {},
  base: '/dashboard',
  session: {
    userId: 'u',
    userName: 'admin',
    domainName: 'Default',
    projectId,
    projectName: 'admin',
    projects: [{ id: projectId, name: 'admin' }],
    roles: isAdmin ? ['admin', 'member', 'reader'] : ['member', 'reader'],
    isAdmin,
  },
});
const section = (page: string) => /<section id="backup-schedules">([\s\S]*?)<\/section>/.exec(page)?.[1] ?? '';

describe('the instance page', () => {
  let c: ComputeCloud;
  beforeEach(async () => {
    c = await computeCloud();
    c.host({ name: 'cmp1' });
  });
  afterEach(async () => {
    await c.close();
  });

  it('lists the server schedules with next run and last result; a failure shows its reason; other projects see none', async () => {
    const flavor = await c.flavor('small');
    const image = await c.image('cirros');
    const r = await c.req('POST', '/compute/v2.1/servers', c.admin, {
      server: { name: 'web', imageRef: image, flavorRef: flavor, networks: 'none' },
    });
    await c.settle();
    const sid = r.body.server.id as string;
    const vctx = volumeCtxOf(c.app.homestack.deps);
    const dir = mkdtempSync(join(tmpdir(), 'hs-dsb-'));
    execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(dir, 'd.qcow2'), '1M']);
    const qcow2 = readFileSync(join(dir, 'd.qcow2'));
    rmSync(dir, { recursive: true, force: true });
    const images = c.app.homestack.deps.facades.images!;
    c.gw.onSnapshot = async (img) => {
      await images.upload(img, Readable.from([qcow2]));
    };
    const ctx = pageCtx(c.app, c.admin, c.adminProjectId, true);
    const before = section(checkSafe(await instanceDetailPage.render({ ...ctx, params: { id: sid } })));
    expect(before).toContain('No backup schedules');

    const good = createSchedule(c.db, { server: sid, cron: '0 3 * * *', keep: 2, name: 'nightly' });
    const ok = await runSchedule(vctx, good.id, c.ctx);
    await c.settle();
    settleSchedules(vctx, c.ctx);
    const bad = createSchedule(c.db, { server: sid, cron: '30 4 * * 0', keep: 1 });
    c.gw.onSnapshot = async () => {
      throw new Error(`disk full ${XSS}`);
    };
    const failed = await runSchedule(vctx, bad.id, c.ctx);
    await c.settle();
    settleSchedules(vctx, c.ctx);

    const html = section(checkSafe(await instanceDetailPage.render({ ...ctx, params: { id: sid } })));
    const rows = html.split('<tr>').slice(2); // header row first
    expect(rows).toHaveLength(2);
    const [g, b] = rows as [string, string];
    expect(g).toContain('<td>nightly</td>');
    expect(g).toContain('<code>0 3 * * *</code>');
    expect(g).toContain('newest 2 of type nightly');
    expect(g).toContain(`<td>${nextRuns('0 3 * * *')[0]!.toISOString()}</td>`);
    expect(g).toContain('<span class="status ok">ok</span>');
    expect(g).toContain(`<code>${ok.backupId}</code>`);
    expect(g).toContain('<td>1 / 0</td>');
    expect(b).toContain(`(${bad.id.slice(0, 8)})`);
    expect(b).toContain('newest 1 of type scheduled');
    expect(b).toContain(`<td>${nextRuns('30 4 * * 0')[0]!.toISOString()}</td>`);
    expect(b).toContain('<span class="status bad">error</span>');
    expect(b).toContain(`the backup image ${failed.backupId} is killed: disk full ${XSS_ESCAPED}`);
    expect(b).toContain('<td>1 / 1</td>');

    // The API behind it: a member of another project sees none of them, even asking by id.
    const m = await c.member('other');
    const mine = await c.req('GET', `/volume/v3/${m.projectId}/os-backup-schedules?server_id=${sid}`, m.token);
    expect(mine).toMatchObject({ status: 200, body: { backup_schedules: [] } });
    const all = await c.req('GET', `/volume/v3/${c.adminProjectId}/os-backup-schedules`, c.admin);
    expect(all.body.backup_schedules.map((s: { id: string }) => s.id).sort()).toEqual([good.id, bad.id].sort());
    const both = await c.req('GET', `/volume/v3/${c.adminProjectId}/os-backup-schedules?server_id=a&volume_id=b`, c.admin);
    expect(both.status).toBe(400);
  });
});

describe('the volumes page', () => {
  it('lists the schedules of the project volumes, naming the volume', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-dsv-'));
    const backend = new FileBackend({ dir: join(dir, 'volumes'), run: makeRunner() });
    const c = await volumeCloud({ backend, backendName: 'file', backups: { dir: join(dir, 'store'), chunkKiB: 256 } });
    try {
      const P = `/volume/v3/${c.adminProjectId}`;
      const v = (await c.req('POST', `${P}/volumes`, c.admin, { volume: { size: 1, name: `data${XSS}` } })).body.volume;
      await c.waitStatus(v.id, c.admin, 'available');
      const s = createSchedule(c.db, { volume: v.id, cron: '15 2 * * *', keep: 3, incremental: true, name: 'vol-nightly' });
      const r = await runSchedule(c.ctx, s.id);
      for (let i = 0; i < 4; i++) {
        await c.settle();
        settleSchedules(c.ctx);
      }
      const html = section(
        checkSafe(await volumesPage.render(pageCtx(c.app as ComputeCloud['app'], c.admin, c.adminProjectId, true))),
      );
      expect(html).toContain(`<th>Volume</th>`);
      expect(html).toContain(`<td>data${XSS_ESCAPED}</td>`);
      expect(html).toContain('<td>vol-nightly</td>');
      expect(html).toContain('newest 3 (incremental)');
      expect(html).toContain(`<td>${nextRuns('15 2 * * *')[0]!.toISOString()}</td>`);
      expect(html).toContain('<span class="status ok">ok</span>');
      expect(html).toContain(`<code>${r.backupId}</code>`);
    } finally {
      await c.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
