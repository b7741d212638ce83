import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { computeCloud, type ComputeCloud } from './testing/kit.js';

const V = '/compute/v2.1';
let c: ComputeCloud;
beforeEach(async () => {
  c = await computeCloud();
});
afterEach(async () => {
  await c.close();
});

async function boot(token: string, body: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return c.req('POST', `${V}/servers`, token, { server: body, ...extra });
}

describe('server create → ACTIVE', () => {
  it('answers 202 with BUILD set synchronously, then becomes ACTIVE with its port and config drive', async () => {
    c.host({ name: 'cmp1' });
    const flavor = await c.flavor('small');
    const image = await c.image('cirros');
    const net = await c.network('n1', '10.9.0.0/24');
    const kp = await c.req('POST', `${V}/os-keypairs`, c.admin, {
      keypair: { name: 'k1', public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl k' },
    });
    expect(kp.status).toBe(200);
    const r = await boot(c.admin, {
      name: 'vm1',
      imageRef: image,
      flavorRef: flavor,
      networks: [{ uuid: net }],
      key_name: 'k1',
      user_data: 'IyEvYmluL3NoCg==',
      min_count: 1,
      max_count: 1,
    });
    expect(r.status).toBe(202);
    expect(r.body.server).toMatchObject({ 'OS-DCF:diskConfig': 'MANUAL', security_groups: [{ name: 'default' }] });
    expect(r.body.server.adminPass).toEqual(expect.any(String));
    expect(r.headers['x-openstack-nova-api-version']).toBe('2.1');
    const id = r.body.server.id;
    const building = await c.req('GET', `${V}/servers/${id}`, c.admin);
    expect(building.body.server.status).toBe('BUILD');
    await c.settle();
    const s = (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server;
    expect(s).toMatchObject({
      status: 'ACTIVE',
      name: 'vm1',
      key_name: 'k1',
      'OS-EXT-STS:vm_state': 'active',
      'OS-EXT-STS:power_state': 1,
      'OS-EXT-STS:task_state': null,
      'OS-EXT-SRV-ATTR:host': 'cmp1',
      'OS-EXT-AZ:availability_zone': 'nova',
      image: { id: image },
      flavor: { id: flavor },
      config_drive: 'True',
      'os-extended-volumes:volumes_attached': [],
    });
    expect(s.hostId).toMatch(/^[0-9a-f]{56}$/);
    expect(s.addresses.n1[0]).toMatchObject({ version: 4, 'OS-EXT-IPS:type': 'fixed' });
    expect(s.addresses.n1[0].addr).toMatch(/^10\.9\.0\./);
    const spec = c.gw.domains.get(id)!.spec!;
    expect(spec.image!.download_url).toBe(`http://cloud.test:8000/image/v2/images/${image}/file`);
    expect(spec.config_drive!.meta_data.public_keys).toEqual({ k1: expect.stringContaining('ssh-ed25519') });
    expect(spec.config_drive!.user_data).toBe('IyEvYmluL3NoCg==');
    expect(spec.nics).toHaveLength(1);
    expect(spec.nics[0]!.mac).toBe(s.addresses.n1[0]['OS-EXT-IPS-MAC:mac_addr']);
    // The boot explains itself in the instance actions.
    const acts = (await c.req('GET', `${V}/servers/${id}/os-instance-actions`, c.admin)).body.instanceActions;
    expect(acts[0]).toMatchObject({ action: 'create', instance_uuid: id });
    const act = (await c.req('GET', `${V}/servers/${id}/os-instance-actions/${acts[0].request_id}`, c.admin)).body.instanceAction;
    expect(act.events.map((e: any) => [e.event, e.result])).toEqual([
      ['conductor_schedule_and_build_instances', 'Success'],
      ['compute__allocate_network', 'Success'],
      ['compute__build_spec', 'Success'],
      ['compute_build_and_run_instance', 'Success'],
    ]);
  });

  it('uses the only network when none is given at 2.1 and names min/max servers NAME-1..N', async () => {
    c.host({ name: 'cmp1' });
    const flavor = await c.flavor('small');
    const image = await c.image('cirros');
    await c.network('only', '10.8.0.0/24');
    const r = await boot(c.admin, { name: 'many', imageRef: image, flavorRef: flavor, min_count: 2, max_count: 3 });
    expect(r.status).toBe(202);
    await c.settle();
    const list = (await c.req('GET', `${V}/servers/detail?name=^many`, c.admin)).body.servers;
    expect(list.map((s: any) => s.name).sort()).toEqual(['many-1', 'many-2', 'many-3']);
    expect(list.every((s: any) => s.status === 'ACTIVE' && s.addresses.only)).toBe(true);
    expect((await c.req('GET', `${V}/servers?name=many-2$`, c.admin)).body.servers).toHaveLength(1);
  });

  it('refuses a missing flavor, image or network with a 400 that names it', async () => {
    const flavor = await c.flavor('small');
    const image = await c.image('cirros');
    const nf = await boot(c.admin, { name: 'x', imageRef: image, flavorRef: 'nope', networks: 'none' });
    expect(nf.status).toBe(400);
    expect(nf.body.badRequest.message).toBe('Flavor nope could not be found.');
    const ni = await boot(c.admin, {
      name: 'x',
      imageRef: 'd5c3e7a4-0000-4000-8000-000000000000',
      flavorRef: flavor,
      networks: 'none',
    });
    expect(ni.body.badRequest.message).toContain('Image d5c3e7a4-0000-4000-8000-000000000000 could not be found');
    const nn = await boot(c.admin, {
      name: 'x',
      imageRef: image,
      flavorRef: flavor,
      networks: [{ uuid: '9f1c2a53-0000-4000-8000-000000000000' }],
    });
    expect(nn.status).toBe(400);
    expect(nn.body.badRequest.message).toContain('Network 9f1c2a53-0000-4000-8000-000000000000 could not be found');
    const bad = await boot(c.admin, { name: 'x', imageRef: image, flavorRef: flavor, user_data: '%%%' });
    expect(bad.body.badRequest.message).toBe('User data needs to be valid base 64.');
    const noname = await c.req('POST', `${V}/servers`, c.admin, { server: { imageRef: image, flavorRef: flavor } });
    expect(noname.status).toBe(400);
    expect(noname.body.badRequest.message).toContain('name');
  });
});

describe('scheduling failures', () => {
  it('puts a server that fits nowhere in ERROR with "No valid host" and per-filter reasons', async () => {
    c.host({ name: 'cmp1', memory_mb: 2048 });
    const flavor = await c.flavor('huge', { ram: 100_000_000 });
    const image = await c.image('cirros');
    const r = await boot(c.admin, { name: 'nofit', imageRef: image, flavorRef: flavor, networks: 'none' });
    expect(r.status).toBe(202);
    await c.settle();
    const s = (await c.req('GET', `${V}/servers/${r.body.server.id}`, c.admin)).body.server;
    expect(s.status).toBe('ERROR');
    expect(s.fault.message).toContain('No valid host');
    expect(s.fault.details).toContain('RamFilter: 1 → 0');
    expect(c.ctx.placement.allocationOf(s.id)).toBeNull();
    const acts = (await c.req('GET', `${V}/servers/${s.id}/os-instance-actions`, c.admin)).body.instanceActions;
    const ev = (await c.req('GET', `${V}/servers/${s.id}/os-instance-actions/${acts[0].request_id}`, c.admin)).body.instanceAction
      .events;
    expect(ev[0]).toMatchObject({ event: 'conductor_schedule_and_build_instances', result: 'Error' });
    expect(ev[0].traceback).toContain('RamFilter');
  });

  it('retries a failed spawn on another host, then ERROR with a fault naming the step; nothing leaks', async () => {
    c.host({ name: 'bad1' });
    c.host({ name: 'bad2' });
    c.gw.failSpawn = new Set(['bad1', 'bad2']);
    const flavor = await c.flavor('small');
    const image = await c.image('cirros');
    const net = await c.network('n1', '10.7.0.0/24');
    const r = await boot(c.admin, { name: 'doomed', imageRef: image, flavorRef: flavor, networks: [{ uuid: net }] });
    await c.settle();
    const id = r.body.server.id;
    const s = (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server;
    expect(s.status).toBe('ERROR');
    expect(s.fault.message).toContain('No valid host');
    // The message says why the builds failed, too.
    expect(s.fault.message).toMatch(
      /The last build failure \(bad[12]\): compute_build_and_run_instance: SpawnFailed: define domain/,
    );
    expect(s.fault.details).toContain('compute_build_and_run_instance: SpawnFailed: define domain: virsh: error');
    expect(
      c.gw.calls
        .filter((x) => x.op === 'spawn')
        .map((x) => x.host)
        .sort(),
    ).toEqual(['bad1', 'bad2']);
    expect(c.gw.domains.size).toBe(0);
    expect(c.ctx.placement.allocationOf(id)).toBeNull();
    expect(s['OS-EXT-SRV-ATTR:host']).toBeNull();
    const ports = (await c.req('GET', `/network/v2.0/ports?device_id=${id}`, c.admin)).body.ports;
    expect(ports).toEqual([]);
  });

  it("stops after build_attempts failed spawns with Nova's retry message", async () => {
    await c.close();
    c = await computeCloud({ build_attempts: 2 });
    for (const n of ['h1', 'h2', 'h3']) c.host({ name: n });
    c.gw.failSpawn = new Set(['h1', 'h2', 'h3']);
    const flavor = await c.flavor('small');
    const image = await c.image('cirros');
    const r = await boot(c.admin, { name: 'doomed', imageRef: image, flavorRef: flavor, networks: 'none' });
    await c.settle();
    const s = (await c.req('GET', `${V}/servers/${r.body.server.id}`, c.admin)).body.server;
    expect(s.status).toBe('ERROR');
    expect(s.fault.message).toContain('Exceeded maximum number of retries');
    expect(c.gw.calls.filter((x) => x.op === 'spawn')).toHaveLength(2);
  });
});

describe('host targeting and hints', () => {
  it('nova:HOST puts the server on that host for admins only; unknown hosts and zones are 400', async () => {
    c.host({ name: 'big', memory_mb: 65536 });
    c.host({ name: 'small1', memory_mb: 4096 });
    const flavor = await c.flavor('f');
    const image = await c.image('i');
    const r = await boot(c.admin, {
      name: 't1',
      imageRef: image,
      flavorRef: flavor,
      networks: 'none',
      availability_zone: 'nova:small1',
    });
    expect(r.status).toBe(202);
    await c.settle();
    expect((await c.req('GET', `${V}/servers/${r.body.server.id}`, c.admin)).body.server['OS-EXT-SRV-ATTR:host']).toBe('small1');
    // Spread by free RAM otherwise: the big host.
    const r2 = await boot(c.admin, { name: 't2', imageRef: image, flavorRef: flavor, networks: 'none' });
    await c.settle();
    expect((await c.req('GET', `${V}/servers/${r2.body.server.id}`, c.admin)).body.server['OS-EXT-SRV-ATTR:host']).toBe('big');
    // different_host keeps away from t2's host.
    const r3 = await boot(
      c.admin,
      { name: 't3', imageRef: image, flavorRef: flavor, networks: 'none' },
      { 'OS-SCH-HNT:scheduler_hints': { different_host: [r2.body.server.id] } },
    );
    await c.settle();
    expect((await c.req('GET', `${V}/servers/${r3.body.server.id}`, c.admin)).body.server['OS-EXT-SRV-ATTR:host']).toBe('small1');
    expect(
      (
        await boot(c.admin, {
          name: 'x',
          imageRef: image,
          flavorRef: flavor,
          networks: 'none',
          availability_zone: 'nova:nowhere',
        })
      ).status,
    ).toBe(400);
    expect(
      (await boot(c.admin, { name: 'x', imageRef: image, flavorRef: flavor, networks: 'none', availability_zone: 'elsewhere' }))
        .status,
    ).toBe(400);
    const m = await c.member('aim');
    const forced = await boot(m.token, {
      name: 'x',
      imageRef: image,
      flavorRef: flavor,
      networks: 'none',
      availability_zone: 'nova:big',
    });
    expect(forced.status).toBe(403);
  });
});

describe('a host that goes down during a spawn', () => {
  it('stops the wait and builds the server on another host', async () => {
    const h1 = c.host({ name: 'first', memory_mb: 65536 });
    c.host({ name: 'second', memory_mb: 4096 });
    const flavor = await c.flavor('f');
    const image = await c.image('i');
    c.gw.hold();
    const r = await boot(c.admin, { name: 'hd', imageRef: image, flavorRef: flavor, networks: 'none' });
    const id = r.body.server.id;
    while (!c.gw.calls.some((x) => x.op === 'spawn')) await new Promise((res) => setTimeout(res, 5));
    expect(c.gw.calls[0]!.host).toBe('first');
    // The host's agent is gone: its spawn will never answer in time (here: it fails late).
    c.gw.failSpawn = new Set(['first']);
    c.db.prepare("UPDATE hosts SET state = 'down' WHERE id = ?").run(h1);
    const { abortSpawnsOn } = await import('./server-build.service.js');
    expect(abortSpawnsOn(c.ctx, h1, 'first')).toBe(1);
    while (c.gw.calls.filter((x) => x.op === 'spawn').length < 2) await new Promise((res) => setTimeout(res, 5));
    c.gw.release();
    await c.settle();
    const s = (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server;
    expect(s).toMatchObject({ status: 'ACTIVE', 'OS-EXT-SRV-ATTR:host': 'second' });
    expect(c.gw.calls.some((x) => x.op === 'destroy' && x.host === 'first')).toBe(true);
    const acts = (await c.req('GET', `${V}/servers/${id}/os-instance-actions`, c.admin)).body.instanceActions;
    const ev = (await c.req('GET', `${V}/servers/${id}/os-instance-actions/${acts[0].request_id}`, c.admin)).body.instanceAction
      .events;
    expect(ev.find((e: any) => e.result === 'Error').traceback).toContain('HostDown: host first went down during the spawn');
  });
});

describe('config drive (force_config_drive)', () => {
  it('is forced by default; with force_config_drive = false only a server that asks gets one', async () => {
    await c.close();
    c = await computeCloud({ force_config_drive: false });
    c.host({ name: 'cmp1' });
    const flavor = await c.flavor('small');
    const image = await c.image('cirros');
    const net = await c.network('n1', '10.9.0.0/24');
    const plain = await boot(c.admin, { name: 'plain', imageRef: image, flavorRef: flavor, networks: [{ uuid: net }] });
    const asked = await boot(c.admin, {
      name: 'asked',
      imageRef: image,
      flavorRef: flavor,
      networks: [{ uuid: net }],
      config_drive: true,
    });
    await c.settle();
    const show = async (id: string) => (await c.req('GET', `${V}/servers/${id}`, c.admin)).body.server;
    expect((await show(plain.body.server.id)).config_drive).toBe('');
    expect((await show(asked.body.server.id)).config_drive).toBe('True');
    expect(c.gw.domains.get(plain.body.server.id)!.spec!.config_drive).toBeNull();
    expect(c.gw.domains.get(asked.body.server.id)!.spec!.config_drive!.ec2!.instance_type).toBe('small');
  });
});
