import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { sampleSpec } from '../../shared/agent/compute.sample.js';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { isofs } from '../../shared/tools/isofs.js';
import { configDriveFiles, decodeUserData, writeConfigDrive } from './config-drive.js';

const cd = sampleSpec.config_drive!;

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else out.push(p);
  }
  return out;
}

describe('config drive', () => {
  let dir = '';
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lays out openstack/latest and a dated folder with the same documents', () => {
    const files = configDriveFiles(cd);
    expect(files.map((f) => f.path)).toEqual([
      'openstack/2012-08-10/meta_data.json',
      'openstack/2012-08-10/user_data',
      'openstack/2012-08-10/network_data.json',
      'openstack/2012-08-10/vendor_data.json',
      'openstack/2012-08-10/vendor_data2.json',
      'openstack/latest/meta_data.json',
      'openstack/latest/user_data',
      'openstack/latest/network_data.json',
      'openstack/latest/vendor_data.json',
      'openstack/latest/vendor_data2.json',
    ]);
    const meta = JSON.parse(files.find((f) => f.path === 'openstack/latest/meta_data.json')!.content.toString());
    expect(meta).toEqual({
      uuid: cd.meta_data.uuid,
      name: 'web-1',
      hostname: 'web-1',
      launch_index: 0,
      availability_zone: 'nova',
      project_id: cd.meta_data.project_id,
      public_keys: { mykey: 'ssh-ed25519 AAAAC3Nza... me@example' },
      keys: [{ name: 'mykey', type: 'ssh', data: 'ssh-ed25519 AAAAC3Nza... me@example' }],
      meta: { role: 'web' },
      devices: [],
    });
    expect(files.find((f) => f.path === 'openstack/latest/user_data')!.content.toString()).toBe('#!/bin/sh\necho hello\n');
    expect(JSON.parse(files.find((f) => f.path === 'openstack/latest/network_data.json')!.content.toString()).links[0].id).toBe(
      'tap10011000-00',
    );
  });

  it('leaves user_data out when there is none and refuses non-base64', () => {
    expect(configDriveFiles({ ...cd, user_data: null }).some((f) => f.path.endsWith('user_data'))).toBe(false);
    expect(() => decodeUserData('not base64 !!')).toThrow(/base64/);
  });

  it('writes the tree, builds the ISO from it with label config-2, and removes the scratch tree', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcd-'));
    const seen: string[] = [];
    const f = new FakeRunner();
    const run: typeof f.run = async (cmd, args, o) => {
      const src = args[args.length - 1]!;
      seen.push(...(await walk(src)).map((p) => relative(src, p)).sort());
      return f.run(cmd, args, o);
    };
    const iso = join(dir, 'disk.config');
    await writeConfigDrive(iso, configDriveFiles(cd), isofs(run));
    expect(seen).toContain('openstack/latest/meta_data.json');
    expect(seen).toContain('openstack/2012-08-10/user_data');
    expect(f.calls[0]!.args).toContain('config-2');
    expect(f.calls[0]!.args[1]).toBe(iso);
    expect(await readdir(dir)).toEqual([]); // the fake wrote no ISO; the scratch tree is gone
  });

  it('removes a partial ISO when the tool fails', async () => {
    dir = mkdtempSync(join(tmpdir(), 'tcd-'));
    const f = new FakeRunner().on(() => true, new Error('genisoimage: No space left on device'));
    await expect(writeConfigDrive(join(dir, 'disk.config'), configDriveFiles(cd), isofs(f.run))).rejects.toThrow(/No space/);
    expect(existsSync(join(dir, 'disk.config'))).toBe(false);
    expect(await readdir(dir)).toEqual([]);
  });
});
