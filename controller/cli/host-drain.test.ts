import { describe, expect, it } from 'vitest';
import { ApiCallError } from './aio/api-client.js';
import { ComputeClient, computeEndpoint } from './compute-client.js';
import { drainApiOf, drainHost, reportDrain, type DrainApi, type DrainServer } from './host-drain.js';

/**
 * host drain's logic against a fake cloud: each live migration takes `ticks` polls and
 * either lands on host b or fails (the server stays on a with its instance action's words).
 */
function fakeCloud(
  servers: Array<Partial<DrainServer> & { name: string }>,
  o: { fail?: string[]; refuse?: string[]; ticks?: number } = {},
) {
  const calls: string[] = [];
  const state = new Map<string, DrainServer & { left: number }>();
  for (const s of servers)
    state.set(s.name, { id: s.name, status: 'ACTIVE', taskState: null, host: 'a', left: 0, ...s } as DrainServer & {
      left: number;
    });
  let running = 0;
  let peak = 0;
  const api: DrainApi = {
    async disable(host, reason) {
      calls.push(`disable ${host} ${reason}`);
    },
    async serversOn(host) {
      calls.push(`list ${host}`);
      return [...state.values()].filter((s) => s.host === host).map(({ left: _l, ...s }) => ({ ...s }));
    },
    async liveMigrate(id) {
      calls.push(`migrate ${id}`);
      if (o.refuse?.includes(id)) throw new ApiCallError('POST', `/servers/${id}/action`, 400, 'No valid host was found.');
      const s = state.get(id)!;
      s.taskState = 'migrating';
      s.status = 'MIGRATING';
      s.left = o.ticks ?? 2;
      peak = Math.max(peak, ++running);
      return `req-${id}`;
    },
    async server(id) {
      const s = state.get(id)!;
      if (s.taskState && --s.left <= 0) {
        running--;
        s.taskState = null;
        s.status = 'ACTIVE';
        if (!o.fail?.includes(id)) s.host = 'b';
      }
      const { left: _l, ...v } = s;
      return { ...v };
    },
    async progress() {
      return { status: 'running', memory: [64 * 1024 * 1024, 192 * 1024 * 1024], disk: [0, 1024 ** 3] };
    },
    async failure(id, rid) {
      calls.push(`failure ${id} ${rid}`);
      return 'compute_live_migration: operation failed: migration job: unexpectedly failed';
    },
  };
  return { api, calls, state, peak: () => peak };
}

const fast = { pollMs: 1, progressEveryMs: 0 };

describe('homestack host drain', () => {
  it('disables the host first, then moves every guest one at a time, printing progress', async () => {
    const c = fakeCloud([{ name: 'g1' }, { name: 'g2' }, { name: 'g3' }]);
    const lines: string[] = [];
    const r = await drainHost(c.api, 'a', { ...fast, say: (l) => lines.push(l) });
    expect(c.calls.slice(0, 2)).toEqual(['disable a homestack host drain', 'list a']);
    expect(c.calls.filter((x) => x.startsWith('migrate'))).toEqual(['migrate g1', 'migrate g2', 'migrate g3']);
    expect(c.peak()).toBe(1);
    expect(r.moved.map((m) => [m.server.name, m.to])).toEqual([
      ['g1', 'b'],
      ['g2', 'b'],
      ['g3', 'b'],
    ]);
    expect(lines.join('\n')).toMatch(/\[2\/3\] g2 \(g2\): running, memory 64\/192 MiB, disk 0\/1024 MiB/);
    expect(lines.join('\n')).toMatch(/\[3\/3\] g3 \(g3\): on b after/);
    // figures only once libvirt has them
    const bare = fakeCloud([{ name: 'g4' }]);
    bare.api.progress = async () => ({ status: 'preparing', memory: [0, 0], disk: [0, 0] });
    const said: string[] = [];
    await drainHost(bare.api, 'a', { ...fast, say: (l) => said.push(l) });
    expect(said).toContain('[1/1] g4 (g4): preparing');
    const out: string[] = [];
    expect(reportDrain('a', r, (l) => out.push(l))).toBe(0);
    expect(out[0]).toBe('a: 3 moved, 0 failed, 0 stayed');
    expect(out.at(-1)).toMatch(/homestack host enable a/);
  });

  it('moves N at a time with --parallel N', async () => {
    const c = fakeCloud([{ name: 'g1' }, { name: 'g2' }, { name: 'g3' }, { name: 'g4' }], { ticks: 4 });
    const r = await drainHost(c.api, 'a', { ...fast, parallel: 2 });
    expect(c.peak()).toBe(2);
    expect(r.moved).toHaveLength(4);
  });

  it('stops at the first failure: starts no more moves and says which guests stayed, and why', async () => {
    const c = fakeCloud([{ name: 'g1' }, { name: 'g2' }, { name: 'g3' }, { name: 'g4' }], { fail: ['g2'] });
    const r = await drainHost(c.api, 'a', fast);
    expect(c.calls.filter((x) => x.startsWith('migrate'))).toEqual(['migrate g1', 'migrate g2']);
    expect(c.calls).toContain('failure g2 req-g2');
    expect(r.moved.map((m) => m.server.name)).toEqual(['g1']);
    expect(r.failed).toEqual([
      {
        server: expect.objectContaining({ name: 'g2' }),
        reason: 'still on a (ACTIVE): compute_live_migration: operation failed: migration job: unexpectedly failed',
      },
    ]);
    expect(r.stayed.map((s) => [s.server.name, s.why])).toEqual([
      ['g3', 'not attempted: the drain stopped after a failure'],
      ['g4', 'not attempted: the drain stopped after a failure'],
    ]);
    const out: string[] = [];
    expect(reportDrain('a', r, (l) => out.push(l))).toBe(1);
    expect(out.join('\n')).toMatch(/a: 1 moved, 1 failed, 2 stayed\n {2}failed: g2 \(g2\): still on a/);
  });

  it('with --parallel, lets the moves under way finish after a failure', async () => {
    const c = fakeCloud([{ name: 'g1' }, { name: 'g2' }, { name: 'g3' }], { refuse: ['g1'], ticks: 3 });
    const r = await drainHost(c.api, 'a', { ...fast, parallel: 2 });
    expect(r.failed.map((f) => [f.server.name, f.reason])).toEqual([
      ['g1', 'refused: POST /servers/g1/action: HTTP 400: No valid host was found.'],
    ]);
    expect(r.moved.map((m) => m.server.name)).toEqual(['g2']);
    expect(r.stayed.map((s) => s.server.name)).toEqual(['g3']);
  });

  it('leaves guests that cannot be live-migrated (stopped, busy) and says so', async () => {
    const c = fakeCloud([{ name: 'g1' }, { name: 'off', status: 'SHUTOFF' }, { name: 'busy', taskState: 'rebooting' }]);
    const r = await drainHost(c.api, 'a', fast);
    expect(r.moved.map((m) => m.server.name)).toEqual(['g1']);
    expect(r.stayed.map((s) => [s.server.name, s.why])).toEqual([
      ['off', 'SHUTOFF: only running guests are live-migrated'],
      ['busy', 'busy (task_state rebooting)'],
    ]);
    expect(reportDrain('a', r, () => {})).toBe(1);
  });

  it('drives the compute API: os-services disable, the host filter, os-migrateLive at 2.30, the failed events', async () => {
    const sent: Array<[string, string, unknown]> = [];
    const replies: Record<string, unknown> = {
      'GET /servers/detail?all_tenants=1&host=t-a': {
        servers: [{ id: 'u1', name: 'g1', status: 'ACTIVE', 'OS-EXT-STS:task_state': null, 'OS-EXT-SRV-ATTR:host': 't-a' }],
      },
      'GET /servers/u1/migrations': {
        migrations: [{ migration_type: 'live-migration', status: 'running', memory_processed_bytes: 5, memory_total_bytes: 9 }],
      },
      'GET /servers/u1/os-instance-actions/req-1': {
        instanceAction: {
          events: [
            { event: 'conductor_live_migrate_instance', result: 'Success', traceback: null },
            { event: 'compute_live_migration', result: 'Error', traceback: 'virsh: unable to connect' },
          ],
        },
      },
    };
    const client = {
      async call(method: string, path: string, body?: unknown) {
        sent.push([method, path, body]);
        return { body: replies[`${method} ${path}`] ?? null, requestId: 'req-1' };
      },
    } as unknown as ComputeClient;
    const api = drainApiOf(client);
    await api.disable('t-a', 'why');
    expect(sent[0]).toEqual([
      'PUT',
      '/os-services/disable-log-reason',
      { host: 't-a', binary: 'nova-compute', disabled_reason: 'why' },
    ]);
    expect(await api.serversOn('t-a')).toEqual([{ id: 'u1', name: 'g1', status: 'ACTIVE', taskState: null, host: 't-a' }]);
    expect(await api.liveMigrate('u1')).toBe('req-1');
    expect(sent.at(-1)).toEqual(['POST', '/servers/u1/action', { 'os-migrateLive': { host: null, block_migration: 'auto' } }]);
    expect(await api.progress('u1')).toEqual({ status: 'running', memory: [5, 9], disk: [0, 0] });
    expect(await api.failure('u1', 'req-1')).toBe('compute_live_migration: virsh: unable to connect');
  });

  it("takes the compute endpoint from the token's catalog (public, in the region asked for)", () => {
    const catalog = [
      { type: 'identity', endpoints: [{ interface: 'public', url: 'http://x/identity' }] },
      {
        type: 'compute',
        endpoints: [
          { interface: 'internal', region: 'RegionOne', url: 'http://i/compute/v2.1' },
          { interface: 'public', region: 'Two', url: 'http://two/compute/v2.1' },
          { interface: 'public', region: 'RegionOne', url: 'http://one/compute/v2.1' },
        ],
      },
    ];
    expect(computeEndpoint(catalog, 'RegionOne')).toBe('http://one/compute/v2.1');
    expect(computeEndpoint(catalog)).toBe('http://two/compute/v2.1');
    expect(computeEndpoint(catalog.slice(0, 1))).toBeUndefined();
  });

  it("refuses to start without an operator's credentials", async () => {
    await expect(ComputeClient.fromEnv({ OS_AUTH_URL: 'http://127.0.0.1:1/identity/v3' }, '2.30')).rejects.toThrow(
      /OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME not set: source an admin's openrc/,
    );
  });
});
