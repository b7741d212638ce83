import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Value } from 'typebox/value';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { HostRegistry } from '../agents/registry.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { hostCommand } from './hosts.js';

/** host remove (refused while instances run, unless --force), disable/enable, list with usage. */
let dir = '';
let argv: string[] = [];
const out: string[] = [];

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'hs-hosts-cli-'));
  writeFileSync(join(dir, 'controller.toml'), `data_dir = "${dir}"\n`);
  argv = ['--config', join(dir, 'controller.toml')];
  const db = openDb(join(dir, 'homestack.db'));
  migrate(db);
  const reg = new HostRegistry(db, Value.Default(ControllerConfigSchema, { data_dir: dir }) as ControllerConfig);
  const h = reg.enrol({ name: 'tcli-1', agentUrl: 'http://127.0.0.1:8001', secret: 'hosts-cli-test-secret-0123456789' });
  reg.enrol({ name: 'tcli-2', agentUrl: 'http://127.0.0.1:8002', secret: 'hosts-cli-test-secret-9876543210' });
  const ts = new Date().toISOString();
  db.prepare(`INSERT INTO instances (id, name, hostname, project_id, user_id, reservation_id, flavor_id, flavor, vm_state, host, host_id, created_at, updated_at)
              VALUES ('11111111-2222-3333-4444-555555555555', 'vm', 'vm', 'p', 'u', 'r-1', 'f', '{}', 'active', 'tcli-1', ?, ?, ?)`).run(
    h.id,
    ts,
    ts,
  );
  db.prepare(
    'INSERT INTO allocations (instance_id, host_id, vcpus, memory_mb, disk_gb, created_at) VALUES (?, ?, 2, 512, 1, ?)',
  ).run('11111111-2222-3333-4444-555555555555', h.id, ts);
  db.close();
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => {
    out.push(String(s));
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => {
    out.push(String(s));
    return true;
  });
});
afterAll(() => {
  vi.restoreAllMocks();
  rmSync(dir, { recursive: true, force: true });
});

const cmd = async (sub: string, ...rest: string[]) => {
  out.length = 0;
  const code = await hostCommand(sub, [sub, ...rest, ...argv]);
  return { code, text: out.join('') };
};

describe('homestack host', () => {
  it('lists usage from placement: instances and what they hold', async () => {
    const r = await cmd('list', '--json');
    expect(r.code).toBe(0);
    const rows = JSON.parse(r.text) as Array<Record<string, unknown>>;
    expect(rows.find((x) => x.name === 'tcli-1')).toMatchObject({ instances: 1, vcpus_used: 2, memory_mb_used: 512 });
  });

  it('refuses to remove a host that runs instances unless --force', async () => {
    const r = await cmd('remove', 'tcli-1');
    expect(r.code).toBe(1);
    expect(r.text).toMatch(/runs 1 instance\(s\).*--force/);
    expect((await cmd('remove', 'tcli-2')).code).toBe(0);
    const f = await cmd('remove', 'tcli-1', '--force');
    expect(f.code).toBe(0);
    expect(f.text).toMatch(/removed tcli-1 \(1 instance\(s\) left without a host\)/);
  });

  it('disables and enables a host', async () => {
    const db = openDb(join(dir, 'homestack.db'));
    new HostRegistry(db, Value.Default(ControllerConfigSchema, { data_dir: dir }) as ControllerConfig).enrol({
      name: 'tcli-3',
      agentUrl: 'http://127.0.0.1:8003',
      secret: 'hosts-cli-test-secret-1111111111',
    });
    db.close();
    expect((await cmd('disable', 'tcli-3', '--reason', 'maintenance')).text).toMatch(/tcli-3 disabled/);
    expect(JSON.parse((await cmd('list', '--json')).text).find((x: { name: string }) => x.name === 'tcli-3').enabled).toBe(false);
    expect((await cmd('enable', 'tcli-3')).text).toMatch(/tcli-3 enabled/);
  });
});
