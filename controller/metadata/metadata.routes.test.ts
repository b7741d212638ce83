import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetadataProxies } from '../../agents/network/metadata-proxy.js';
import { signInstanceId } from '../../shared/metadata/signature.js';
import { ServersRepo, type NewInstance } from '../compute/servers.repo.js';
import { netTestApp, type NetTestApp } from '../networks/testing/kit.js';
import { METADATA_PREFIX, metadataPlugin } from './metadata.routes.js';

/**
 * The metadata service's checks, end to end in one process: a real network plugin
 * (network, subnet, DHCP port, server ports) and an enrolled host, the metadata API
 * mounted as in buildApp, and the network agent's proxy in front of it (listening on
 * loopback here instead of 169.254.169.254 in a namespace).
 */

const SECRET_A = 'host-a-credential-0123456789abcdef0123456789abcdef';
const SECRET_B = 'host-b-credential-0123456789abcdef0123456789abcdef';
let t: NetTestApp;
let url = '';
let vm1 = '';
let vm2 = '';
let project = '';

function instance(id: string, name: string, projectId: string): NewInstance {
  const now = new Date().toISOString();
  return {
    id,
    name,
    hostname: name,
    description: null,
    project_id: projectId,
    user_id: 'u',
    reservation_id: 'r-00000001',
    launch_index: 0,
    image_ref: '0abc1234-0000-4000-8000-000000000000',
    flavor_id: 'f1',
    flavor: { id: 'f1', name: 'm1.tiny', ram: 512, vcpus: 1, disk: 1, ephemeral: 0, swap: 0, extra_specs: {} },
    vm_state: 'active',
    task_state: null,
    power_state: 1,
    availability_zone: 'nova',
    requested_az: null,
    key_name: 'k1',
    key_data: 'ssh-ed25519 AAAA k1',
    user_data: Buffer.from(`#cloud-config\n# ${name}\n`).toString('base64'),
    config_drive: 'True',
    metadata: {},
    security_groups: [{ name: 'default' }],
    requested_networks: [],
    scheduler_hints: {},
    block_devices: [],
    access_ipv4: '',
    access_ipv6: '',
    admin_pass: null,
    created_at: now,
  } as unknown as NewInstance;
}

beforeAll(async () => {
  t = await netTestApp();
});

describe('metadata API (controller) behind the metadata proxy (agent)', () => {
  let app: Awaited<ReturnType<typeof import('fastify').default>>;
  let proxies: MetadataProxies;
  let listener: Server;
  let proxyPort = 0;

  beforeAll(async () => {
    // A second app sharing the network test app's db and facades, with the metadata API.
    const Fastify = (await import('fastify')).default;
    app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true } });
    const deps = {
      config: t.config,
      db: t.db,
      log: app.log,
      auth: null as never,
      facades: { networks: t.net.facade },
      extras: { agentLayer: t.layer },
    };
    await app.register(metadataPlugin(deps as never), { prefix: METADATA_PREFIX });
    url = await app.listen({ host: '127.0.0.1', port: 0 });
    t.layer.hosts.enrol({ name: 'host-a', agentUrl: 'http://127.0.0.1:1', secret: SECRET_A });
    t.layer.hosts.enrol({ name: 'host-b', agentUrl: 'http://127.0.0.1:2', secret: SECRET_B });
    project = 'p-alice';
    const net = (await t.req('POST', '/v2.0/networks', 'alice', { network: { name: 'n1' } })).body.network;
    await t.req('POST', '/v2.0/subnets', 'alice', { subnet: { network_id: net.id, cidr: '10.0.0.0/24', ip_version: 4 } });
    vm1 = '11111111-1111-4111-8111-111111111111';
    vm2 = '22222222-2222-4222-8222-222222222222';
    const servers = new ServersRepo(t.db);
    servers.insert(instance(vm1, 'vm-one', project));
    servers.insert(instance(vm2, 'vm-two', project));
    const ctx = (await import('../networks/testing/kit.js')).ctxFor('alice');
    const p1 = t.net.facade.createServerPort(ctx, { networkId: net.id, fixedIp: '10.0.0.11', serverId: vm1, az: 'nova' });
    t.net.facade.createServerPort(ctx, { networkId: net.id, fixedIp: '10.0.0.12', serverId: vm2, az: 'nova' });
    // The network's DHCP port lives on host-a: its proxy may ask about this network.
    t.db
      .prepare("UPDATE net_ports SET binding_host_id = 'host-a' WHERE network_id = ? AND device_owner = 'network:dhcp'")
      .run(net.id);
    expect(p1.fixed_ips[0]!.ip_address).toBe('10.0.0.11');

    // The proxy of host-a, listening on loopback; the instance at 127.0.0.1 is vm1.
    proxies = new MetadataProxies({
      controllerUrl: url,
      secret: SECRET_A,
      listen: async () => {
        listener = createServer();
        await new Promise<void>((r) => listener.listen({ host: '127.0.0.1', port: 0 }, () => r()));
        return { server: listener, nsInode: -1 };
      },
    });
    await proxies.ensure(net.id, 'unused', [{ ip_address: '127.0.0.1', instance_id: vm1, project_id: project }]);
    proxyPort = (listener.address() as { port: number }).port;
  });
  afterAll(async () => {
    await proxies?.closeAll();
    await app?.close();
  });

  const direct = (path: string, h: Record<string, string>, method = 'GET', body?: string) =>
    fetch(`${url}${METADATA_PREFIX}${path}`, { method, headers: h, body });
  const signed = (secret: string, id: string, tenant = project) => ({
    authorization: `Bearer ${secret}`,
    'x-instance-id': id,
    'x-tenant-id': tenant,
    'x-instance-id-signature': signInstanceId(secret, id),
  });

  it('serves a guest its own documents through the proxy, identified by its address', async () => {
    const md = await fetch(`http://127.0.0.1:${proxyPort}/openstack/latest/meta_data.json`);
    expect(md.status).toBe(200);
    expect(md.headers.get('content-type')).toMatch(/application\/json/);
    expect(await md.json()).toMatchObject({
      uuid: vm1,
      name: 'vm-one',
      project_id: project,
      public_keys: { k1: 'ssh-ed25519 AAAA k1' },
    });
    expect(await (await fetch(`http://127.0.0.1:${proxyPort}/openstack/latest/user_data`)).text()).toBe(
      '#cloud-config\n# vm-one\n',
    );
    expect(await (await fetch(`http://127.0.0.1:${proxyPort}/latest/meta-data/local-ipv4`)).text()).toBe('10.0.0.11');
    const nd = await (await fetch(`http://127.0.0.1:${proxyPort}/openstack/latest/network_data.json`)).json();
    expect(nd.networks[0]).toMatchObject({ type: 'ipv4_dhcp' });
    expect((await fetch(`http://127.0.0.1:${proxyPort}/openstack/latest/nothing`)).status).toBe(404);
  });

  it('sets the password once and reads it back (Nova: 409 the second time, 400 over 256 bytes)', async () => {
    const p = `http://127.0.0.1:${proxyPort}/openstack/latest/password`;
    expect(await (await fetch(p)).text()).toBe('');
    expect((await fetch(p, { method: 'POST', body: 'x'.repeat(257) })).status).toBe(400);
    expect(
      (await fetch(p, { method: 'POST', body: '{"x": "encrypted-pw"}', headers: { 'content-type': 'application/json' } })).status,
    ).toBe(200);
    expect((await fetch(p, { method: 'POST', body: 'again' })).status).toBe(409);
    expect(await (await fetch(p)).text()).toBe('{"x": "encrypted-pw"}'); // the body as sent, whatever its type
  });

  it('gives an address that is no instance of the network nothing, without asking the controller', async () => {
    await proxies.ensure(proxies.keys()[0]!, 'unused', [{ ip_address: '10.0.0.12', instance_id: vm2, project_id: project }]);
    try {
      const r = await fetch(`http://127.0.0.1:${proxyPort}/openstack/latest/meta_data.json`);
      expect(r.status).toBe(404);
      expect(await r.text()).not.toContain(vm2);
    } finally {
      await proxies.ensure(proxies.keys()[0]!, 'unused', [{ ip_address: '127.0.0.1', instance_id: vm1, project_id: project }]);
    }
  });

  it('refuses a forged or missing signature, another project, and a host that does not serve the network', async () => {
    expect((await direct('/openstack/latest/meta_data.json', signed(SECRET_A, vm2))).status).toBe(200);
    // no credential / a credential that is not enrolled
    expect((await direct('/openstack/latest/meta_data.json', { ...signed(SECRET_A, vm2), authorization: '' })).status).toBe(401);
    expect((await direct('/openstack/latest/meta_data.json', signed('not-enrolled-secret', vm2))).status).toBe(401);
    // vm1's signature presented for vm2 (a proxy's caller cannot pick the instance id)
    const forged = { ...signed(SECRET_A, vm2), 'x-instance-id-signature': signInstanceId(SECRET_A, vm1) };
    expect((await direct('/openstack/latest/meta_data.json', forged)).status).toBe(403);
    // signed with another host's key than the bearer's
    expect(
      (
        await direct('/openstack/latest/meta_data.json', {
          ...signed(SECRET_A, vm2),
          'x-instance-id-signature': signInstanceId(SECRET_B, vm2),
        })
      ).status,
    ).toBe(403);
    const { 'x-instance-id-signature': _s, ...unsigned } = signed(SECRET_A, vm2);
    expect((await direct('/openstack/latest/meta_data.json', unsigned)).status).toBe(400);
    // the right signature, the wrong project
    expect((await direct('/openstack/latest/meta_data.json', signed(SECRET_A, vm2, 'p-bob'))).status).toBe(404);
    // host-b runs no DHCP server for the network: it learns nothing about its instances
    expect((await direct('/openstack/latest/meta_data.json', signed(SECRET_B, vm2))).status).toBe(404);
    // an instance that does not exist
    expect(
      (await direct('/openstack/latest/meta_data.json', signed(SECRET_A, '33333333-3333-4333-8333-333333333333'))).status,
    ).toBe(404);
  });

  it("serves a router's host (the L3 agent's proxy) for the networks the router has an interface on", async () => {
    const r = (await t.req('POST', '/v2.0/routers', 'alice', { router: { name: 'r1' } })).body.router;
    const subnet = (await t.req('GET', '/v2.0/subnets', 'alice')).body.subnets.find(
      (x: { cidr: string }) => x.cidr === '10.0.0.0/24',
    );
    t.db.prepare("UPDATE net_routers SET host = 'host-b' WHERE id = ?").run(r.id);
    expect((await direct('/openstack/latest/meta_data.json', signed(SECRET_B, vm2))).status).toBe(404); // no interface yet
    const add = await t.req('PUT', `/v2.0/routers/${r.id}/add_router_interface`, 'alice', { subnet_id: subnet.id });
    expect(add.status).toBe(200);
    const md = await direct('/openstack/latest/meta_data.json', signed(SECRET_B, vm2));
    expect(md.status).toBe(200);
    expect((await md.json()).uuid).toBe(vm2);
    t.db.prepare("UPDATE net_routers SET host = 'host-c' WHERE id = ?").run(r.id); // the router moved away
    expect((await direct('/openstack/latest/meta_data.json', signed(SECRET_B, vm2))).status).toBe(404);
  });
});

afterAll(async () => {
  await t?.close();
});
