import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from '../identity/testing/kit.js';

let c: TestCloud;
beforeEach(async () => {
  c = await testCloud();
});
afterEach(async () => {
  await c.close();
});

describe('networking inside the whole controller (buildApp, real identity tokens and policy)', () => {
  it('serves /network/v2.0 and gives compute its facade', async () => {
    const n = await c.req('POST', '/network/v2.0/networks', c.adminToken, { network: { name: 'tapp-net' } });
    expect(n.status).toBe(201);
    expect(n.body.network).toMatchObject({ 'provider:network_type': 'vxlan', project_id: c.adminProjectId });
    const s = await c.req('POST', '/network/v2.0/subnets', c.adminToken, {
      subnet: { network_id: n.body.network.id, cidr: '10.4.0.0/24', ip_version: 4 },
    });
    expect(s.status).toBe(201);
    const facade = c.app.homestack.deps.facades.networks!;
    expect(facade.getPort('nope')).toBeNull();
    expect((await c.req('GET', '/network/v2.0/networks', undefined)).status).toBe(401);
    expect((await c.req('GET', '/network/v2.0/extensions', c.adminToken)).body.extensions.length).toBeGreaterThan(10);
  });
});
