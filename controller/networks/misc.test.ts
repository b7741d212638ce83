import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { netTestApp, type NetTestApp } from './testing/kit.js';

let t: NetTestApp;
beforeEach(async () => {
  t = await netTestApp();
});
afterEach(async () => {
  await t.close();
});

describe('extensions', () => {
  it('lists what is implemented and 404s the rest', async () => {
    const r = await t.req('GET', '/v2.0/extensions', 'alice');
    const aliases = r.body.extensions.map((e: any) => e.alias);
    for (const a of [
      'router',
      'external-net',
      'security-group',
      'quotas',
      'provider',
      'binding',
      'port-security',
      'ext-gw-mode',
      'net-mtu',
      'standard-attr-description',
      'project-id',
    ]) {
      expect(aliases).toContain(a);
    }
    expect(r.body.extensions[0]).toHaveProperty('updated');
    expect((await t.req('GET', '/v2.0/extensions/router', 'alice')).body.extension.alias).toBe('router');
    const miss = await t.req('GET', '/v2.0/extensions/tag-ports-during-bulk-creation', 'alice');
    expect(miss.status).toBe(404);
    expect(miss.body.NeutronError.type).toBe('ExtensionNotFound');
  });
});

describe('quotas', () => {
  it('shows defaults, sets limits (admin only), enforces them with 409 OverQuota, -1 = unlimited', async () => {
    const q = await t.req('GET', '/v2.0/quotas/p-alice', 'alice');
    expect(q.body.quota).toMatchObject({
      network: 100,
      subnet: 100,
      port: 500,
      router: 10,
      floatingip: 50,
      security_group: 10,
      security_group_rule: 100,
      rbac_policy: 10,
      subnetpool: -1,
    });
    expect((await t.req('GET', '/v2.0/quotas/p-bob', 'alice')).status).toBe(403);
    expect((await t.req('PUT', '/v2.0/quotas/p-alice', 'alice', { quota: { network: 1 } })).status).toBe(403);
    const set = await t.req('PUT', '/v2.0/quotas/p-alice', 'admin', { quota: { network: 1, router: -1 } });
    expect(set.body.quota).toMatchObject({ network: 1, router: -1 });
    expect((await t.req('POST', '/v2.0/networks', 'alice', { network: { name: 'a' } })).status).toBe(201);
    const over = await t.req('POST', '/v2.0/networks', 'alice', { network: { name: 'b' } });
    expect(over.status).toBe(409);
    expect(over.body.NeutronError.type).toBe('OverQuota');
    const details = await t.req('GET', '/v2.0/quotas/p-alice/details.json', 'admin');
    expect(details.body.quota.network).toEqual({ limit: 1, used: 1, reserved: 0 });
    expect((await t.req('GET', '/v2.0/quotas', 'admin')).body.quotas.map((x: any) => x.project_id)).toEqual(['p-alice']);
    expect((await t.req('GET', '/v2.0/quotas/p-alice/default', 'admin')).body.quota.network).toBe(100);
    expect((await t.req('DELETE', '/v2.0/quotas/p-alice', 'admin')).status).toBe(204);
    expect((await t.req('GET', '/v2.0/quotas/p-alice', 'admin')).body.quota.network).toBe(100);
    expect((await t.req('PUT', '/v2.0/quotas/p-alice', 'admin', { quota: { network: -2 } })).status).toBe(400);
  });
});

describe('agents and IP availability', () => {
  it('shows one Open vSwitch agent per network host, alive from heartbeats', async () => {
    t.addHost('hs-a', { tunnelIp: '192.0.2.1' });
    t.addHost('hs-b', { tunnelIp: '192.0.2.2', state: 'down' });
    t.addHost('hs-vol', { roles: ['volume'] });
    const r = await t.req('GET', '/v2.0/agents?agent_type=Open vSwitch agent', 'admin');
    expect(r.body.agents.map((a: any) => [a.host, a.alive, a.binary])).toEqual([
      ['hs-a', true, 'neutron-openvswitch-agent'],
      ['hs-b', false, 'neutron-openvswitch-agent'],
    ]);
    expect(r.body.agents[0].configurations.tunneling_ip).toBe('192.0.2.1');
    const one = await t.req('GET', `/v2.0/agents/${r.body.agents[0].id}`, 'admin');
    expect(one.body.agent.host).toBe('hs-a');
    expect((await t.req('GET', '/v2.0/agents', 'alice')).status).toBe(403);
    expect((await t.req('GET', '/v2.0/agents', 'admin')).body.agents).toHaveLength(6);
  });

  it('counts addresses per network and subnet', async () => {
    const n = (await t.req('POST', '/v2.0/networks', 'admin', { network: { name: 'n' } })).body.network;
    await t.req('POST', '/v2.0/subnets', 'admin', { subnet: { network_id: n.id, cidr: '10.2.0.0/24', ip_version: 4 } });
    const r = await t.req('GET', '/v2.0/network-ip-availabilities', 'admin');
    expect(r.body.network_ip_availabilities[0]).toMatchObject({ network_id: n.id, total_ips: 253, used_ips: 1 });
    expect(r.body.network_ip_availabilities[0].subnet_ip_availability[0]).toMatchObject({
      cidr: '10.2.0.0/24',
      total_ips: 253,
      used_ips: 1,
    });
    expect((await t.req('GET', `/v2.0/network-ip-availabilities/${n.id}`, 'admin')).body.network_ip_availability.used_ips).toBe(
      1,
    );
  });
});

describe('tags, auth and errors', () => {
  it('sets and filters tags', async () => {
    const n = (await t.req('POST', '/v2.0/networks', 'alice', { network: { name: 'n' } })).body.network;
    expect((await t.req('PUT', `/v2.0/networks/${n.id}/tags`, 'alice', { tags: ['red', 'blue'] })).body.tags).toEqual([
      'red',
      'blue',
    ]);
    expect((await t.req('PUT', `/v2.0/networks/${n.id}/tags/green`, 'alice')).status).toBe(201);
    expect((await t.req('GET', '/v2.0/networks?tags=red,green', 'alice')).body.networks).toHaveLength(1);
    expect((await t.req('GET', '/v2.0/networks?tags=purple', 'alice')).body.networks).toHaveLength(0);
    expect((await t.req('DELETE', `/v2.0/networks/${n.id}/tags/red`, 'alice')).status).toBe(204);
    expect((await t.req('GET', `/v2.0/networks/${n.id}/tags`, 'alice')).body.tags).toEqual(['blue', 'green']);
  });

  it('answers 404 for tags of a collection named like an Object.prototype member (fuzz find: was 500)', async () => {
    for (const coll of ['valueOf', 'constructor', '__proto__', 'toString'])
      for (const [method, path] of [
        ['GET', `/v2.0/${coll}/x/tags`],
        ['DELETE', `/v2.0/${coll}/%20/tags/`],
        ['PUT', `/v2.0/${coll}/x/tags/t`],
      ] as const) {
        const r = await t.req(method, path, 'alice');
        expect(r.status, `${method} ${path}`).toBe(404);
      }
  });

  it('answers 401 without a token and Neutron errors for unknown paths', async () => {
    const r = await t.app.inject({ url: '/network/v2.0/networks' });
    expect(r.statusCode).toBe(401);
    expect(r.json().NeutronError).toBeDefined();
    expect((await t.req('GET', '/v2.0/nothing-here')).body.NeutronError.type).toBe('NotFound');
    expect((await t.app.inject({ url: '/network/v2.0' })).json().resources.map((x: any) => x.collection)).toContain('networks');
  });
});
