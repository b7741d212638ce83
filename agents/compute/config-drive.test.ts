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

  it("lays out Nova's tree: every OpenStack version with the documents it has, ec2/2009-04-04 and ec2/latest", () => {
    const files = configDriveFiles(cd);
    const paths = files.map((f) => f.path);
    // The oldest version has no vendor or network data (Nova adds them in 2013-10-17, 2015-10-15, 2016-10-06).
    expect(paths.filter((p) => p.startsWith('openstack/2012-08-10/'))).toEqual([
      'openstack/2012-08-10/meta_data.json',
      'openstack/2012-08-10/user_data',
    ]);
    expect(paths.filter((p) => p.startsWith('openstack/latest/'))).toEqual([
      'openstack/latest/meta_data.json',
      'openstack/latest/user_data',
      'openstack/latest/vendor_data.json',
      'openstack/latest/network_data.json',
      'openstack/latest/vendor_data2.json',
    ]);
    expect(new Set(paths.map((p) => p.split('/').slice(0, 2).join('/')))).toEqual(
      new Set([
        ...[
          '2012-08-10',
          '2013-04-04',
          '2013-10-17',
          '2015-10-15',
          '2016-06-30',
          '2016-10-06',
          '2017-02-22',
          '2018-08-27',
          '2020-10-14',
          '2025-04-04',
          'latest',
        ].map((v) => `openstack/${v}`),
      ]),
    );
    expect(paths.some((p) => p.startsWith('ec2/'))).toBe(false); // the sample spec has no ec2 data
    const withEc2 = configDriveFiles({
      ...cd,
      ec2: {
        instance_id: 'i-0000000a',
        ami_id: 'ami-12345678',
        reservation_id: 'r-1',
        instance_type: 'm1.tiny',
        local_ipv4: '10.0.0.5',
        public_ipv4: '',
        security_groups: ['default'],
        block_device_mapping: { ami: 'vda', root: '/dev/vda' },
      },
    });
    expect(withEc2.map((f) => f.path).filter((p) => p.startsWith('ec2/'))).toEqual([
      'ec2/2009-04-04/user-data',
      'ec2/2009-04-04/meta-data.json',
      'ec2/latest/user-data',
      'ec2/latest/meta-data.json',
    ]);
    const ec2 = JSON.parse(withEc2.find((f) => f.path === 'ec2/latest/meta-data.json')!.content.toString());
    expect(ec2['instance-id']).toBe('i-0000000a');
    expect(ec2['public-keys']).toEqual({ '0': { 'openssh-key': 'ssh-ed25519 AAAAC3Nza... me@example' } });
    expect(JSON.parse(files.find((f) => f.path === 'openstack/latest/vendor_data2.json')!.content.toString())).toEqual({
      static: {},
    });
    const meta = JSON.parse(files.find((f) => f.path === 'openstack/latest/meta_data.json')!.content.toString());
    expect(meta).toEqual({
      uuid: cd.meta_data.uuid,
      meta: { role: 'web' },
      public_keys: { mykey: 'ssh-ed25519 AAAAC3Nza... me@example' },
      keys: [{ name: 'mykey', type: 'ssh', data: 'ssh-ed25519 AAAAC3Nza... me@example' }],
      hostname: 'web-1',
      name: 'web-1',
      launch_index: 0,
      availability_zone: 'nova',
      random_seed: expect.any(String),
      project_id: cd.meta_data.project_id,
      devices: [],
      dedicated_cpus: [],
    });
    expect(Buffer.from(meta.random_seed, 'base64')).toHaveLength(512);
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
