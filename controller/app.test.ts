import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { ControllerConfigSchema } from '../shared/config/controller.js';
import { buildApp } from './app.js';
import { openDb } from './db/open.js';
import { migrate } from './db/migrate.js';

async function app() {
  const db = openDb(':memory:');
  migrate(db);
  const config = Value.Default(ControllerConfigSchema, {}) as never;
  return buildApp({ config, db, logger: false });
}

describe('controller app', () => {
  it('answers every service prefix with its version document', async () => {
    const a = await app();
    const id = await a.inject({ url: '/identity/v3' });
    expect(id.statusCode).toBe(200);
    expect(id.json().version.id).toBe('v3.14');
    expect((await a.inject({ url: '/v3' })).json().version.links[0].href).toBe('http://localhost:80/v3/');
    const nova = await a.inject({ url: '/compute/v2.1' });
    expect(nova.json().version).toMatchObject({ id: 'v2.1', min_version: '2.1' });
    expect((await a.inject({ url: '/image/' })).statusCode).toBe(300);
    expect((await a.inject({ url: '/network/' })).json().versions[0].id).toBe('v2.0');
    expect((await a.inject({ url: '/volume/v3/' })).json().versions[0].id).toBe('v3.0');
  });

  it('puts x-openstack-request-id on every response', async () => {
    const a = await app();
    const r = await a.inject({ url: '/nowhere' });
    expect(r.headers['x-openstack-request-id']).toMatch(/^req-[0-9a-f-]{36}$/);
    expect(r.statusCode).toBe(404);
  });

  it("answers unknown paths with each service's error document", async () => {
    const a = await app();
    expect((await a.inject({ url: '/compute/v2.1/nothing' })).json()).toHaveProperty('itemNotFound.code', 404);
    expect((await a.inject({ url: '/network/v2.0/nothing' })).json()).toHaveProperty('NeutronError.type', 'NotFound');
    const image = { accept: 'application/json' }; // Glance negotiates (webob): JSON when asked for
    expect((await a.inject({ url: '/image/v2/nothing', headers: image })).json()).toMatchObject({ code: '404 Not Found' });
    expect((await a.inject({ url: '/identity/v3/nothing' })).json()).toHaveProperty('error.code', 404);
  });
});
