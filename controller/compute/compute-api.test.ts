import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fingerprint } from './keypairs.service.js';
import { computeCloud, type ComputeCloud } from './testing/kit.js';

const V = '/compute/v2.1';
let c: ComputeCloud;
beforeAll(async () => {
  c = await computeCloud();
});
afterAll(async () => {
  await c.close();
});

describe('microversion headers', () => {
  it('echoes the version with Vary; 406 outside the range; the version document is open', async () => {
    const r = await c.req('GET', `${V}/flavors`, c.admin, undefined, { 'OpenStack-API-Version': 'compute 2.1' });
    expect(r.headers['openstack-api-version']).toBe('compute 2.1');
    expect(r.headers['x-openstack-nova-api-version']).toBe('2.1');
    expect(r.headers.vary).toContain('OpenStack-API-Version');
    const bad = await c.req('GET', `${V}/flavors`, c.admin, undefined, { 'X-OpenStack-Nova-API-Version': '2.90' });
    expect(bad.status).toBe(406);
    expect(bad.body.computeFault.message).toContain('Version 2.90 is not supported by the API');
    expect((await c.req('GET', `${V}/flavors`, c.admin, undefined, { 'X-OpenStack-Nova-API-Version': 'x' })).status).toBe(400);
    const doc = await c.req('GET', '/compute/v2.1');
    expect(doc.body.version).toMatchObject({ id: 'v2.1', version: '2.30', min_version: '2.1' });
    expect((await c.req('GET', `${V}/flavors`)).status).toBe(401);
  });
});

describe('flavors', () => {
  it('create (id null → uuid, 200, admin only), show, list with is_public, delete', async () => {
    const m = await c.member('flv');
    const body = {
      flavor: {
        ram: 192,
        id: null,
        vcpus: 1,
        'OS-FLV-EXT-DATA:ephemeral': 0,
        disk: 1,
        swap: 0,
        'os-flavor-access:is_public': true,
        name: 'f-pub',
        rxtx_factor: 1.0,
      },
    };
    expect((await c.req('POST', `${V}/flavors`, m.token, body)).status).toBe(403);
    const r = await c.req('POST', `${V}/flavors`, c.admin, body);
    expect(r.status).toBe(200);
    expect(r.body.flavor).toMatchObject({
      name: 'f-pub',
      ram: 192,
      vcpus: 1,
      disk: 1,
      swap: '',
      'os-flavor-access:is_public': true,
      'OS-FLV-DISABLED:disabled': false,
      rxtx_factor: 1,
    });
    expect(r.body.flavor.id).toMatch(/^[0-9a-f-]{36}$/);
    expect((await c.req('POST', `${V}/flavors`, c.admin, body)).status).toBe(409);
    const priv = (
      await c.req('POST', `${V}/flavors`, c.admin, {
        flavor: { name: 'f-priv', ram: 64, vcpus: 1, disk: 0, id: 'priv1', 'os-flavor-access:is_public': false },
      })
    ).body.flavor;
    expect(priv.id).toBe('priv1');
    const names = async (url: string, token = c.admin) =>
      (await c.req('GET', url, token)).body.flavors.map((f: any) => f.name).sort();
    expect(await names(`${V}/flavors/detail?is_public=True`)).toEqual(['f-pub']);
    expect(await names(`${V}/flavors/detail?is_public=None`)).toEqual(['f-priv', 'f-pub']);
    expect(await names(`${V}/flavors?is_public=false`)).toEqual(['f-priv']);
    expect(await names(`${V}/flavors/detail?is_public=None`, m.token)).toEqual(['f-pub']);
    expect((await c.req('GET', `${V}/flavors/priv1`, m.token)).status).toBe(404);
    expect((await c.req('GET', `${V}/flavors/f-pub`, c.admin)).status).toBe(404); // names are not ids (osc falls back to list)
    // Access list.
    expect(
      (await c.req('POST', `${V}/flavors/priv1/action`, c.admin, { addTenantAccess: { tenant: m.projectId } })).body
        .flavor_access,
    ).toEqual(
      [
        { flavor_id: 'priv1', tenant_id: c.adminProjectId },
        { flavor_id: 'priv1', tenant_id: m.projectId },
      ].sort((a, b) => a.tenant_id.localeCompare(b.tenant_id)),
    );
    expect(await names(`${V}/flavors`, m.token)).toEqual(['f-priv', 'f-pub']);
    expect((await c.req('GET', `${V}/flavors/priv1`, m.token)).status).toBe(200);
    expect((await c.req('GET', `${V}/flavors/${r.body.flavor.id}/os-flavor-access`, c.admin)).status).toBe(404);
    // Extra specs.
    expect((await c.req('GET', `${V}/flavors/priv1/os-extra_specs`, c.admin)).body).toEqual({ extra_specs: {} });
    expect(
      (await c.req('POST', `${V}/flavors/priv1/os-extra_specs`, c.admin, { extra_specs: { 'hw:cpu_policy': 'shared', n: 1 } }))
        .body,
    ).toEqual({ extra_specs: { 'hw:cpu_policy': 'shared', n: '1' } });
    expect((await c.req('PUT', `${V}/flavors/priv1/os-extra_specs/n`, c.admin, { n: '2' })).body).toEqual({ n: '2' });
    expect((await c.req('GET', `${V}/flavors/priv1/os-extra_specs/n`, c.admin)).body).toEqual({ n: '2' });
    expect((await c.req('DELETE', `${V}/flavors/priv1/os-extra_specs/n`, c.admin)).status).toBe(200);
    expect((await c.req('GET', `${V}/flavors/priv1/os-extra_specs/n`, c.admin)).status).toBe(404);
    expect((await c.req('DELETE', `${V}/flavors/priv1`, c.admin)).status).toBe(202);
    expect((await c.req('GET', `${V}/flavors/priv1`, c.admin)).status).toBe(404);
    // Paging and minRam.
    const page = (await c.req('GET', `${V}/flavors?limit=1&minRam=100`, c.admin)).body.flavors;
    expect(page.map((f: any) => f.name)).toEqual(['f-pub']);
  });
});

describe('keypairs', () => {
  it('fingerprints an ed25519 key exactly as ssh-keygen -l -E md5', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-key-'));
    try {
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'test', '-f', join(dir, 'k')]);
      const pub = readFileSync(join(dir, 'k.pub'), 'utf8');
      const want = execFileSync('ssh-keygen', ['-l', '-E', 'md5', '-f', join(dir, 'k.pub')], { encoding: 'utf8' })
        .split(' ')[1]!
        .replace(/^MD5:/, '');
      expect(fingerprint(pub)).toBe(want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('imports (200 at 2.1, 201 at 2.2 with type), generates RSA-2048 with a private key, deletes (202 / 204)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-key-'));
    try {
      const r = await c.req('POST', `${V}/os-keypairs`, c.admin, { keypair: { name: 'gen' } });
      expect(r.status).toBe(200);
      expect(r.body.keypair.private_key).toContain('BEGIN RSA PRIVATE KEY');
      expect(r.body.keypair.public_key).toMatch(/^ssh-rsa AAAA\S+ Generated-by-Nova$/);
      // ssh-keygen agrees with our public key and its fingerprint.
      const fs = await import('node:fs');
      fs.writeFileSync(join(dir, 'gen.pub'), r.body.keypair.public_key + '\n');
      const out = execFileSync('ssh-keygen', ['-l', '-E', 'md5', '-f', join(dir, 'gen.pub')], { encoding: 'utf8' });
      expect(out).toContain(`MD5:${r.body.keypair.fingerprint}`);
      expect(out).toContain('2048');
      fs.writeFileSync(join(dir, 'gen'), r.body.keypair.private_key, { mode: 0o600 });
      expect(
        execFileSync('ssh-keygen', ['-y', '-f', join(dir, 'gen')], { encoding: 'utf8' })
          .trim()
          .split(' ')[1],
      ).toBe(r.body.keypair.public_key.split(' ')[1]);
      expect((await c.req('POST', `${V}/os-keypairs`, c.admin, { keypair: { name: 'gen' } })).status).toBe(409);
      expect(
        (await c.req('POST', `${V}/os-keypairs`, c.admin, { keypair: { name: 'junk', public_key: 'ssh-rsa bm90IGEga2V5' } })).body
          .badRequest.message,
      ).toBe('Keypair data is invalid: failed to generate fingerprint');
      const list = (await c.req('GET', `${V}/os-keypairs`, c.admin)).body.keypairs;
      expect(list[0].keypair).toMatchObject({ name: 'gen', fingerprint: r.body.keypair.fingerprint });
      const one = (await c.req('GET', `${V}/os-keypairs/gen`, c.admin)).body.keypair;
      expect(one).toMatchObject({ name: 'gen', user_id: expect.any(String), deleted: false });
      const m = await c.member('keys');
      expect((await c.req('GET', `${V}/os-keypairs/gen`, m.token)).status).toBe(404);
      expect((await c.req('DELETE', `${V}/os-keypairs/gen`, c.admin)).status).toBe(202);
      expect((await c.req('DELETE', `${V}/os-keypairs/gen`, c.admin)).status).toBe(404);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('quotas and limits', () => {
  it("shows Nova's keys with the legacy ones at 2.1, updates (admin), enforces instances with a 403", async () => {
    const m = await c.member('quo');
    const q = (await c.req('GET', `${V}/os-quota-sets/${m.projectId}`, m.token)).body.quota_set;
    expect(q).toMatchObject({
      id: m.projectId,
      instances: 10,
      cores: 20,
      ram: -1,
      key_pairs: 100,
      metadata_items: 128,
      server_groups: 10,
      server_group_members: 10,
      floating_ips: 10,
      fixed_ips: -1,
      security_groups: 10,
      security_group_rules: 20,
    });
    expect((await c.req('PUT', `${V}/os-quota-sets/${m.projectId}`, m.token, { quota_set: { instances: 1 } })).status).toBe(403);
    const u = await c.req('PUT', `${V}/os-quota-sets/${m.projectId}`, c.admin, { quota_set: { instances: 1 } });
    expect(u.body.quota_set.instances).toBe(1);
    expect((await c.req('PUT', `${V}/os-quota-sets/${m.projectId}`, c.admin, { quota_set: { bogus: 1 } })).status).toBe(400);
    expect((await c.req('GET', `${V}/os-quota-sets/${m.projectId}/defaults`, m.token)).body.quota_set.instances).toBe(10);
    c.host({ name: 'qhost' });
    const flavor = await c.flavor('qf');
    const image = await c.image('qimg');
    const boot = (n: string) =>
      c.req('POST', `${V}/servers`, m.token, { server: { name: n, imageRef: image, flavorRef: flavor, networks: 'none' } });
    expect((await boot('q1')).status).toBe(202);
    const over = await boot('q2');
    expect(over.status).toBe(403);
    expect(over.body.forbidden.message).toBe('Quota exceeded for instances: Requested 1, but already used 1 of 1 instances');
    const detail = (await c.req('GET', `${V}/os-quota-sets/${m.projectId}/detail`, m.token)).body.quota_set;
    expect(detail.instances).toEqual({ limit: 1, in_use: 1, reserved: 0 });
    const lim = (await c.req('GET', `${V}/limits`, m.token)).body.limits;
    expect(lim.rate).toEqual([]);
    expect(lim.absolute).toMatchObject({
      maxTotalInstances: 1,
      totalInstancesUsed: 1,
      totalCoresUsed: 1,
      maxTotalRAMSize: -1,
      maxTotalKeypairs: 100,
    });
    await c.settle();
  });
});

describe('hosts: hypervisors, services, availability zones', () => {
  it('lists hypervisors with integer ids and stats, services with state from heartbeats, enable/disable', async () => {
    c.host({ name: 'hv-up', vcpus: 4, memory_mb: 8192, disk_gb: 50 });
    c.host({ name: 'hv-down', state: 'down' });
    const hv = (await c.req('GET', `${V}/os-hypervisors/detail`, c.admin)).body.hypervisors;
    const up = hv.find((h: any) => h.hypervisor_hostname === 'hv-up');
    expect(up).toMatchObject({
      state: 'up',
      status: 'enabled',
      vcpus: 4,
      memory_mb: 8192,
      local_gb: 50,
      hypervisor_type: 'QEMU',
      running_vms: 0,
    });
    expect(Number.isInteger(up.id)).toBe(true);
    expect((await c.req('GET', `${V}/os-hypervisors/${up.id}`, c.admin)).body.hypervisor.hypervisor_hostname).toBe('hv-up');
    expect(
      (await c.req('GET', `${V}/os-hypervisors/statistics`, c.admin)).body.hypervisor_statistics.count,
    ).toBeGreaterThanOrEqual(2);
    const m = await c.member('hv');
    expect((await c.req('GET', `${V}/os-hypervisors`, m.token)).status).toBe(403);
    const svcs = (await c.req('GET', `${V}/os-services?binary=nova-compute`, c.admin)).body.services;
    expect(svcs.find((s: any) => s.host === 'hv-up')).toMatchObject({
      binary: 'nova-compute',
      state: 'up',
      status: 'enabled',
      zone: 'nova',
    });
    expect(svcs.find((s: any) => s.host === 'hv-down').state).toBe('down');
    const dis = await c.req('PUT', `${V}/os-services/disable-log-reason`, c.admin, {
      host: 'hv-up',
      binary: 'nova-compute',
      disabled_reason: 'maint',
    });
    expect(dis.body.service).toEqual({ host: 'hv-up', binary: 'nova-compute', status: 'disabled', disabled_reason: 'maint' });
    expect(c.ctx.scheduler.cache.all().find((h) => h.name === 'hv-up')!.enabled).toBe(false);
    expect(
      (await c.req('PUT', `${V}/os-services/enable`, c.admin, { host: 'hv-up', binary: 'nova-compute' })).body.service.status,
    ).toBe('enabled');
    const az = (await c.req('GET', `${V}/os-availability-zone`, m.token)).body.availabilityZoneInfo;
    expect(az).toContainEqual({ zoneName: 'nova', zoneState: { available: true }, hosts: null });
    const azd = (await c.req('GET', `${V}/os-availability-zone/detail`, c.admin)).body.availabilityZoneInfo;
    expect(azd[0].hosts['hv-up']['nova-compute']).toMatchObject({ available: true, active: true });
  });
});

describe('server groups', () => {
  it('anti-affinity puts members on different hosts; soft policies need 2.15', async () => {
    const m = await c.member('grp');
    for (const n of ['ga', 'gb']) c.host({ name: n });
    const flavor = await c.flavor('gf');
    const image = await c.image('gimg');
    const g = await c.req('POST', `${V}/os-server-groups`, m.token, {
      server_group: { name: 'g1', policies: ['anti-affinity'] },
    });
    expect(g.status).toBe(200);
    expect(g.body.server_group).toMatchObject({ name: 'g1', policies: ['anti-affinity'], members: [] });
    const boot = (n: string) =>
      c.req('POST', `${V}/servers`, m.token, {
        server: { name: n, imageRef: image, flavorRef: flavor, networks: 'none' },
        'OS-SCH-HNT:scheduler_hints': { group: g.body.server_group.id },
      });
    // Only hosts ga and gb are free of other tests' servers? Any host counts once per member.
    const ids: string[] = [];
    for (const n of ['a1', 'a2']) {
      ids.push((await boot(n)).body.server.id);
      await c.settle();
    }
    const hosts = await Promise.all(
      ids.map(async (id) => (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server['OS-EXT-SRV-ATTR:host']),
    );
    expect(new Set(hosts).size).toBe(2);
    const got = (await c.req('GET', `${V}/os-server-groups/${g.body.server_group.id}`, m.token)).body.server_group;
    expect(got.members.sort()).toEqual([...ids].sort());
    expect((await c.req('GET', `${V}/os-server-groups`, m.token)).body.server_groups).toHaveLength(1);
    expect(
      (await c.req('POST', `${V}/os-server-groups`, m.token, { server_group: { name: 'g2', policies: ['soft-affinity'] } }))
        .status,
    ).toBe(400);
    expect((await c.req('DELETE', `${V}/os-server-groups/${g.body.server_group.id}`, m.token)).status).toBe(204);
  });
});

describe('server lists and usage', () => {
  it('filters by status, pages with limit/marker and servers_links, reports tenant usage', async () => {
    const m = await c.member('lister');
    c.host({ name: 'lh' });
    const flavor = await c.flavor('lf');
    const image = await c.image('limg');
    for (const n of ['l1', 'l2', 'l3'])
      await c.req('POST', `${V}/servers`, m.token, { server: { name: n, imageRef: image, flavorRef: flavor, networks: 'none' } });
    await c.settle();
    const p1 = (await c.req('GET', `${V}/servers?limit=2`, m.token)).body;
    expect(p1.servers.map((s: any) => s.name)).toEqual(['l3', 'l2']);
    expect(p1.servers_links[0].rel).toBe('next');
    const next = new URL(p1.servers_links[0].href);
    const p2 = (await c.req('GET', `${V}/servers?${next.searchParams.toString()}`, m.token)).body;
    expect(p2.servers.map((s: any) => s.name)).toEqual(['l1']);
    expect(p2.servers_links).toBeUndefined();
    expect((await c.req('GET', `${V}/servers/detail?status=ACTIVE`, m.token)).body.servers).toHaveLength(3);
    expect((await c.req('GET', `${V}/servers/detail?status=SHUTOFF`, m.token)).body.servers).toHaveLength(0);
    expect((await c.req('GET', `${V}/servers?marker=nope`, m.token)).status).toBe(400);
    const since = new Date(Date.now() - 60_000).toISOString();
    const id = p2.servers[0].id;
    await c.req('DELETE', `${V}/servers/${id}`, m.token);
    await c.settle();
    const changed = (await c.req('GET', `${V}/servers/detail?changes-since=${since}`, m.token)).body.servers;
    expect(changed.find((s: any) => s.id === id).status).toBe('DELETED');
    const all = (await c.req('GET', `${V}/servers/detail?all_tenants=True`, c.admin)).body.servers;
    expect(all.filter((s: any) => s.tenant_id === m.projectId)).toHaveLength(2);
    const usage = (await c.req('GET', `${V}/os-simple-tenant-usage/${m.projectId}`, m.token)).body.tenant_usage;
    expect(usage.tenant_id).toBe(m.projectId);
    expect(usage.server_usages).toHaveLength(3);
    expect((await c.req('GET', `${V}/os-simple-tenant-usage`, m.token)).status).toBe(403);
  });
});

describe('microversions 2.2 to 2.5', () => {
  it('2.2: keypair type, create 201 and delete 204', async () => {
    const h = { 'OpenStack-API-Version': 'compute 2.2' };
    const pub = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl k';
    const r = await c.req('POST', `${V}/os-keypairs`, c.admin, { keypair: { name: 'mv22', public_key: pub, type: 'ssh' } }, h);
    expect(r.status).toBe(201);
    expect(r.body.keypair.type).toBe('ssh');
    expect(
      (await c.req('GET', `${V}/os-keypairs`, c.admin, undefined, h)).body.keypairs.find((k: any) => k.keypair.name === 'mv22')
        .keypair.type,
    ).toBe('ssh');
    expect(
      (await c.req('GET', `${V}/os-keypairs`, c.admin)).body.keypairs.find((k: any) => k.keypair.name === 'mv22').keypair.type,
    ).toBeUndefined();
    expect((await c.req('DELETE', `${V}/os-keypairs/mv22`, c.admin, undefined, h)).status).toBe(204);
  });

  it('2.3: extended server attributes for admins only; 2.5: ip6 filter', async () => {
    c.host({ name: 'mvh' });
    const flavor = await c.flavor('mvf');
    const image = await c.image('mvimg');
    const m = await c.member('mv');
    const r = await c.req('POST', `${V}/servers`, m.token, {
      server: { name: 'mv', imageRef: image, flavorRef: flavor, networks: 'none', user_data: 'ZWNobyBoaQ==' },
    });
    await c.settle();
    const id = r.body.server.id;
    const h = { 'X-OpenStack-Nova-API-Version': '2.3' };
    const admin = (await c.req('GET', `${V}/servers/${id}`, c.admin, undefined, h)).body.server;
    expect(admin).toMatchObject({
      'OS-EXT-SRV-ATTR:reservation_id': expect.stringMatching(/^r-/),
      'OS-EXT-SRV-ATTR:launch_index': 0,
      'OS-EXT-SRV-ATTR:hostname': 'mv',
      'OS-EXT-SRV-ATTR:root_device_name': '/dev/vda',
      'OS-EXT-SRV-ATTR:user_data': 'ZWNobyBoaQ==',
      'OS-EXT-SRV-ATTR:kernel_id': '',
    });
    const at21 = (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server;
    expect(at21['OS-EXT-SRV-ATTR:hostname']).toBeUndefined();
    const mine = (await c.req('GET', `${V}/servers/${id}`, m.token, undefined, h)).body.server;
    expect(mine['OS-EXT-SRV-ATTR:host']).toBeUndefined();
    expect(mine['OS-EXT-SRV-ATTR:user_data']).toBeUndefined();
    const doc = await c.req('GET', '/compute/v2.1/');
    expect(doc.body.version.version).toBe('2.30');
    expect(
      (await c.req('GET', `${V}/servers?ip6=fd00::1`, m.token, undefined, { 'X-OpenStack-Nova-API-Version': '2.5' })).body
        .servers,
    ).toEqual([]);
    expect((await c.req('GET', `${V}/servers`, m.token, undefined, { 'X-OpenStack-Nova-API-Version': '2.31' })).status).toBe(406);
  });
});
