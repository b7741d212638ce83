import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HostOpError, type HostRef } from './host-gateway.js';
import { resumeLiveMigrations } from './live-migration-recovery.js';
import { claimDestination, moveRequestSpec, newMigration } from './move-common.js';
import type { MoveGateway } from './move-gateway.js';
import { computeCloud, type ComputeCloud, type FakeGateway } from './testing/kit.js';

/**
 * Moving servers through the API with a fake compute gateway and a fake move gateway:
 * states, records, claims, refusals and the microversion gates. The real hosts are in
 * agents/network/testing/mobility.system.test.ts.
 */

const V = '/compute/v2.1';
const mv = (v: string) => ({ 'OpenStack-API-Version': `compute ${v}` });

class FakeMoves implements MoveGateway {
  readonly calls: string[] = [];
  failLive: string | null = null;
  constructor(readonly gw: FakeGateway) {}
  agentUrl = (h: HostRef) => `http://${h.name}:8001`;
  address = (h: HostRef) => `10.0.0.${h.name.length}`;
  async offer(h: HostRef) {
    this.calls.push(`offer@${h.name}`);
  }
  async prepareIncoming(h: HostRef) {
    this.calls.push(`prepare@${h.name}`);
    return { instance_dir: `/i/${h.name}`, console_host: '127.0.0.1', fetched_bytes: 0, fetch_ms: 0 };
  }
  async liveMigrate(h: HostRef, b: { uuid: string }) {
    this.calls.push(`live@${h.name}`);
    if (this.failLive) throw new HostOpError('MigrationFailed', this.failLive);
    const d = this.gw.domains.get(b.uuid)!;
    const dest = [...new Set([...this.calls].filter((c) => c.startsWith('prepare@')).map((c) => c.slice(8)))].at(-1)!;
    d.host = dest;
    return { ms: 1234, stats: null };
  }
  async progress() {
    return { running: false, stats: null };
  }
  async abort() {
    return true;
  }
  async forceComplete() {
    return true;
  }
  async cleanup(h: HostRef) {
    this.calls.push(`cleanup@${h.name}`);
  }
}

let c: ComputeCloud;
let moves: FakeMoves;
let flavor: string;
let big: string;
let image: string;
beforeEach(async () => {
  c = await computeCloud({}, { moves: (gw) => (moves = new FakeMoves(gw)) });
  c.host({ name: 'cmp1' });
  c.host({ name: 'cmp2' });
  flavor = await c.flavor('small', { disk: 2 });
  big = await c.flavor('big', { ram: 1024, disk: 4 });
  image = await c.image('cirros');
});
afterEach(async () => {
  await c.close();
});

async function active(name: string, host = 'cmp1'): Promise<string> {
  const r = await c.req('POST', `${V}/servers`, c.admin, {
    server: { name, imageRef: image, flavorRef: flavor, networks: 'none', availability_zone: `nova:${host}` },
  });
  if (r.status !== 202) throw new Error(JSON.stringify(r.body));
  await c.settle();
  return r.body.server.id;
}
const show = async (id: string, h: Record<string, string> = {}) =>
  (await c.req('GET', `${V}/servers/${id}`, c.admin, undefined, h)).body.server;
const act = (id: string, body: unknown, h: Record<string, string> = {}, token = c.admin) =>
  c.req('POST', `${V}/servers/${id}/action`, token, body, h);
const allocations = () =>
  c.db.prepare('SELECT instance_id, host_id FROM allocations').all() as Array<{ instance_id: string; host_id: string }>;

describe('live migration (os-migrateLive)', () => {
  it('moves the server, records it and frees the source claim; 2.23 lists it as live-migration', async () => {
    const id = await active('lm1');
    const r = await act(id, { 'os-migrateLive': { host: 'cmp2', block_migration: true } }, mv('2.30'));
    expect(r.status).toBe(202);
    expect((await show(id)).status).toBe('MIGRATING');
    await c.settle();
    const s = await show(id);
    expect(s.status).toBe('ACTIVE');
    expect(s['OS-EXT-SRV-ATTR:host']).toBe('cmp2');
    expect(moves.calls).toEqual(['offer@cmp1', 'prepare@cmp2', 'live@cmp1', 'cleanup@cmp1']);
    expect(allocations()).toHaveLength(1);
    const list = await c.req('GET', `${V}/os-migrations?instance_uuid=${id}`, c.admin, undefined, mv('2.23'));
    expect(list.body.migrations[0]).toMatchObject({
      migration_type: 'live-migration',
      status: 'completed',
      source_compute: 'cmp1',
      dest_compute: 'cmp2',
    });
    expect(list.body.migrations[0].links).toBeUndefined();
    const old = await c.req('GET', `${V}/os-migrations`, c.admin);
    expect(old.body.migrations[0].migration_type).toBeUndefined();
    const ev = await c.req('GET', `${V}/servers/${id}/os-instance-actions/${r.headers['x-openstack-request-id']}`, c.admin);
    expect(ev.body.instanceAction.events.map((e: { event: string }) => e.event)).toEqual(
      expect.arrayContaining([
        'compute_pre_live_migration',
        'compute_live_migration',
        'compute_post_live_migration_at_destination',
      ]),
    );
  });

  it('a failed migration leaves the server where it was, with the tool words in the event and fault', async () => {
    const id = await active('lm2');
    moves.failLive = 'virsh migrate: operation failed: migration out: canceled by the host';
    expect((await act(id, { 'os-migrateLive': { host: null, block_migration: 'auto' } }, mv('2.25'))).status).toBe(202);
    await c.settle();
    const s = await show(id);
    expect(s.status).toBe('ACTIVE');
    expect(s['OS-EXT-SRV-ATTR:host']).toBe('cmp1');
    expect(c.ctx.servers.latestFault(id)?.message).toContain('canceled by the host');
    expect(moves.calls).toContain('cleanup@cmp2');
    const m = (await c.req('GET', `${V}/os-migrations`, c.admin, undefined, mv('2.23'))).body.migrations[0];
    expect(m.status).toBe('error');
    const held = allocations();
    expect(held).toHaveLength(1);
    expect(held[0]!.instance_id).toBe(id);
  });

  it('a move the previous controller was driving settles where the guest runs: completed there, or error and back', async () => {
    const [landed, stayed] = [await active('lm4'), await active('lm5')];
    // What a crash leaves (os-migrateLive's state before its background move): task
    // `migrating`, the record `running`, the destination claimed, the source's claim on
    // the migration.
    for (const id of [landed, stayed]) {
      const i = c.ctx.servers.get(id)!;
      c.ctx.servers.update(id, { task_state: 'migrating' }, new Date().toISOString());
      const m = newMigration(c.ctx, i, { userId: i.user_id } as never, 'live-migration', { status: 'accepted' });
      expect(claimDestination(c.ctx, i, m, moveRequestSpec(c.ctx, i, { ignoreHosts: ['cmp1'], host: 'cmp2' })).ok).toBe(true);
      c.ctx.migrations.update(m.id, { status: 'running' });
    }
    // libvirt switched one over while no controller ran; the other never left cmp1.
    moves.gw.domains.get(landed)!.host = 'cmp2';
    const runs: Array<Promise<void>> = [];
    expect(resumeLiveMigrations(c.ctx, (_what, fn) => runs.push(fn())).sort()).toEqual([landed, stayed].sort());
    await Promise.all(runs);
    await c.settle();
    const migration = (id: string) => c.ctx.migrations.inProgress(id, []).find((m) => m.migration_type === 'live-migration')!;
    const hostId = (name: string) => (c.db.prepare('SELECT id FROM hosts WHERE name = ?').get(name) as { id: string }).id;
    for (const [id, host, status] of [
      [landed, 'cmp2', 'completed'],
      [stayed, 'cmp1', 'error'],
    ] as const) {
      const s = await show(id);
      expect([s.status, s['OS-EXT-SRV-ATTR:host'], s['OS-EXT-STS:task_state']]).toEqual(['ACTIVE', host, null]);
      expect(migration(id).status).toBe(status);
      expect(allocations().filter((a) => a.instance_id === id || a.instance_id === migration(id).uuid)).toEqual([
        { instance_id: id, host_id: hostId(host) },
      ]);
    }
    expect(migration(stayed).error).toContain('the controller restarted while the migration was running');
    // The landed guest's source and the stayed guest's destination are cleaned.
    expect(moves.calls.filter((x) => x.startsWith('cleanup@')).sort()).toEqual(['cleanup@cmp1', 'cleanup@cmp2']);
  });

  it('refuses as Nova: a member (403), its own host, an unknown host, no block migration for a local disk', async () => {
    const id = await active('lm3');
    const m = await c.member('mover');
    c.db.prepare('UPDATE instances SET project_id = ? WHERE id = ?').run(m.projectId, id);
    expect(
      (await act(id, { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } }, {}, m.token)).status,
    ).toBe(403);
    const self = await act(id, { 'os-migrateLive': { host: 'cmp1', block_migration: true } }, mv('2.30'));
    expect(self.status).toBe(400);
    expect(self.body.badRequest.message).toBe(`Unable to migrate instance (${id}) to current host (cmp1).`);
    expect(
      (await act(id, { 'os-migrateLive': { host: 'nope', block_migration: true } }, mv('2.30'))).body.badRequest.message,
    ).toBe('Compute host nope could not be found.');
    expect((await act(id, { 'os-migrateLive': { host: null, block_migration: false, disk_over_commit: false } })).status).toBe(
      400,
    );
    // disk_over_commit is required below 2.25 and refused from it
    expect((await act(id, { 'os-migrateLive': { host: null, block_migration: true } })).status).toBe(400);
    expect(
      (await act(id, { 'os-migrateLive': { host: null, block_migration: true, disk_over_commit: false } }, mv('2.25'))).status,
    ).toBe(400);
    expect(
      (await act(id, { 'os-migrateLive': { host: null, block_migration: true, force: true } }, mv('2.30'))).body.badRequest
        .message,
    ).toBe("Can't force to a non-provided destination");
  });
});

describe('migration records and microversion gates', () => {
  it('serves /servers/{id}/migrations from 2.23, abort from 2.24, force_complete from 2.22 (404 below)', async () => {
    const id = await active('rec1');
    expect((await c.req('GET', `${V}/servers/${id}/migrations`, c.admin, undefined, mv('2.22'))).status).toBe(404);
    expect((await c.req('GET', `${V}/servers/${id}/migrations`, c.admin, undefined, mv('2.23'))).body).toEqual({
      migrations: [],
    });
    expect((await c.req('DELETE', `${V}/servers/${id}/migrations/1`, c.admin, undefined, mv('2.23'))).status).toBe(404);
    const del = await c.req('DELETE', `${V}/servers/${id}/migrations/1`, c.admin, undefined, mv('2.24'));
    expect(del.status).toBe(409);
    const fc = await c.req('POST', `${V}/servers/${id}/migrations/1/action`, c.admin, { force_complete: null }, mv('2.22'));
    expect(fc.status).toBe(409);
    const v = await c.req('GET', '/compute/v2.1', undefined);
    expect(v.body.version.version).toBe('2.30');
  });

  it('server tags from 2.26', async () => {
    const id = await active('tag1');
    expect((await c.req('GET', `${V}/servers/${id}/tags`, c.admin, undefined, mv('2.25'))).status).toBe(404);
    expect((await c.req('PUT', `${V}/servers/${id}/tags/a`, c.admin, undefined, mv('2.26'))).status).toBe(201);
    expect((await c.req('PUT', `${V}/servers/${id}/tags/a`, c.admin, undefined, mv('2.26'))).status).toBe(204);
    expect((await c.req('PUT', `${V}/servers/${id}/tags`, c.admin, { tags: ['b', 'c'] }, mv('2.26'))).body).toEqual({
      tags: ['b', 'c'],
    });
    expect((await show(id, mv('2.26'))).tags).toEqual(['b', 'c']);
    expect((await show(id, mv('2.25'))).tags).toBeUndefined();
    expect((await c.req('GET', `${V}/servers?tags=b,c`, c.admin, undefined, mv('2.26'))).body.servers).toHaveLength(1);
    expect((await c.req('GET', `${V}/servers?not-tags-any=c`, c.admin, undefined, mv('2.26'))).body.servers).toHaveLength(0);
    expect((await c.req('PUT', `${V}/servers/${id}/tags`, c.admin, { tags: ['x/y'] }, mv('2.26'))).status).toBe(400);
    expect((await c.req('GET', `${V}/servers/${id}/tags/zz`, c.admin, undefined, mv('2.26'))).status).toBe(404);
  });
});

describe('cold migration, resize and evacuate', () => {
  it('resize ends in VERIFY_RESIZE; confirm frees the source; a smaller disk is refused with Nova words', async () => {
    const id = await active('rs1');
    expect((await act(id, { resize: { flavorRef: big } })).status).toBe(202);
    await c.settle();
    let s = await show(id);
    expect(c.ctx.servers.latestFault(id)?.message ?? s.status).toBe('VERIFY_RESIZE');
    expect(s['OS-EXT-SRV-ATTR:host']).toBe('cmp2');
    expect(allocations()).toHaveLength(2);
    expect((await act(id, { confirmResize: null })).status).toBe(204);
    await c.settle();
    s = await show(id);
    expect(s.status).toBe('ACTIVE');
    expect(allocations()).toHaveLength(1);
    const shrink = await act(id, { resize: { flavorRef: flavor } });
    expect(shrink.status).toBe(400);
    expect(shrink.body.badRequest.message).toBe('Resize error: Unable to resize disk down.');
    expect((await act(id, { resize: { flavorRef: big } })).body.badRequest.message).toBe(
      'When resizing, instances must change flavor!',
    );
  });

  it('revert brings the server back with its old flavor; migrate (admin) records a migration', async () => {
    const id = await active('rs2');
    expect((await act(id, { migrate: null })).status).toBe(202);
    await c.settle();
    expect((await show(id)).status).toBe('VERIFY_RESIZE');
    expect((await act(id, { revertResize: null })).status).toBe(202);
    await c.settle();
    const s = await show(id);
    expect(s.status).toBe('ACTIVE');
    expect(s['OS-EXT-SRV-ATTR:host']).toBe('cmp1');
    const types = (await c.req('GET', `${V}/os-migrations?instance_uuid=${id}`, c.admin, undefined, mv('2.23'))).body.migrations;
    expect(types[0]).toMatchObject({ migration_type: 'migration', status: 'reverted' });
  });

  it('evacuate is refused while the host is up, and rebuilds elsewhere once it is down', async () => {
    const id = await active('ev1');
    const up = await act(id, { evacuate: { onSharedStorage: false } });
    expect(up.status).toBe(400);
    expect(up.body.badRequest.message).toBe('Compute service of cmp1 is still in use.');
    c.db.prepare("UPDATE hosts SET state = 'down' WHERE name = 'cmp1'").run();
    c.ctx.scheduler.cache.invalidate();
    const r = await act(id, { evacuate: {} }, mv('2.14'));
    expect(r.status).toBe(200);
    await c.settle();
    const s = await show(id);
    expect(c.ctx.servers.latestFault(id)?.message ?? s.status).toBe('ACTIVE');
    expect(s['OS-EXT-SRV-ATTR:host']).toBe('cmp2');
    const m = (await c.req('GET', `${V}/os-migrations?instance_uuid=${id}`, c.admin, undefined, mv('2.23'))).body.migrations[0];
    expect(m).toMatchObject({ migration_type: 'evacuation', status: 'done' });
  });
});
