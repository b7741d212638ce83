import Fastify from 'fastify';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Conflict, NotFound, OverLimit } from '../../shared/errors/index.js';
import type { ErrorStyle } from '../../shared/errors/index.js';
import { newRequestId } from '../../shared/util/ids.js';
import { installErrorHandling } from './errors.js';
import { installJsonParser } from './json-body.js';
import { installRequestId } from './request-id.js';

class NetworkNotFound extends NotFound {}

async function app(style: ErrorStyle, logLines?: string[]) {
  const stream = new Writable({
    write(c, _e, cb) {
      logLines?.push(String(c));
      cb();
    },
  });
  const a = Fastify({ logger: logLines ? { level: 'info', stream } : false, genReqId: () => newRequestId() });
  installRequestId(a);
  installJsonParser(a);
  await a.register(
    async (s) => {
      installErrorHandling(s, {
        style,
        wwwAuthenticate: style === 'keystone' ? () => 'Keystone uri="http://x/identity"' : undefined,
      });
      s.get('/missing', async () => {
        throw new NetworkNotFound('Network n1 could not be found.');
      });
      s.get('/conflict', async () => {
        throw new Conflict('in use');
      });
      s.get('/limit', async () => {
        const e = new OverLimit('slow down', undefined, 429);
        e.headers = { 'Retry-After': '5' };
        throw e;
      });
      s.get('/boom', async () => {
        throw new Error('secret internals /etc/shadow');
      });
      s.post(
        '/echo',
        { schema: { body: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } } } },
        async (r) => r.body,
      );
    },
    { prefix: '/svc' },
  );
  return a;
}

describe('error documents per service', () => {
  it('compute/volume (nova style)', async () => {
    const a = await app('nova');
    expect((await a.inject({ url: '/svc/missing' })).json()).toEqual({
      itemNotFound: { code: 404, message: 'Network n1 could not be found.' },
    });
    expect((await a.inject({ url: '/svc/conflict' })).json()).toEqual({ conflictingRequest: { code: 409, message: 'in use' } });
    const lim = await a.inject({ url: '/svc/limit' });
    expect(lim.statusCode).toBe(429);
    expect(lim.headers['retry-after']).toBe('5');
    expect((await a.inject({ url: '/svc/nowhere' })).json()).toHaveProperty('itemNotFound.code', 404);
    const bad = await a.inject({ method: 'POST', url: '/svc/echo', payload: {} });
    expect(bad.statusCode).toBe(400);
    expect(bad.json()).toHaveProperty('badRequest.code', 400);
  });

  it('network (neutron style) uses the class name as type', async () => {
    const a = await app('neutron');
    expect((await a.inject({ url: '/svc/missing' })).json()).toEqual({
      NeutronError: { type: 'NetworkNotFound', message: 'Network n1 could not be found.', detail: '' },
    });
  });

  it('image (glance style)', async () => {
    const a = await app('glance');
    expect((await a.inject({ url: '/svc/missing', headers: { accept: 'application/json' } })).json()).toEqual({
      message: 'Network n1 could not be found.',
      code: '404 Not Found',
      title: 'Not Found',
    });
    // Without Accept (glanceclient), webob's plain text.
    const plain = await a.inject({ url: '/svc/missing' });
    expect(plain.headers['content-type']).toMatch(/^text\/plain/);
    expect(plain.body).toBe('404 Not Found\n\nNetwork n1 could not be found.\n\n   ');
  });

  it('identity (keystone style)', async () => {
    const a = await app('keystone');
    expect((await a.inject({ url: '/svc/conflict' })).json()).toEqual({
      error: { code: 409, message: 'in use', title: 'Conflict' },
    });
  });

  it('malformed JSON is a 400 naming the problem; a wrong media type is a 415', async () => {
    const a = await app('nova');
    const r = await a.inject({
      method: 'POST',
      url: '/svc/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(r.statusCode).toBe(400);
    expect(r.json().badRequest.message).toMatch(/Malformed request body/);
    const t = await a.inject({ method: 'POST', url: '/svc/echo', headers: { 'content-type': 'text/x-nothing' }, payload: 'x' });
    expect(t.statusCode).toBe(415);
  });

  it('a 5xx never shows internals; the log has them with the request id', async () => {
    const lines: string[] = [];
    const a = await app('nova', lines);
    const r = await a.inject({ url: '/svc/boom' });
    expect(r.statusCode).toBe(500);
    expect(r.body).not.toContain('shadow');
    expect(r.json()).toEqual({ computeFault: { code: 500, message: expect.stringMatching(/erred/) } });
    const id = r.headers['x-openstack-request-id'];
    expect(id).toMatch(/^req-[0-9a-f-]{36}$/);
    const logged = lines.map((l) => JSON.parse(l)).find((l) => l.err?.message?.includes('shadow'));
    expect(logged.reqId).toBe(id);
  });

  it('agent error documents', async () => {
    const a = await app('agent');
    expect((await a.inject({ url: '/svc/conflict' })).json()).toEqual({
      error: { code: 'Conflict', message: 'in use', retryable: false },
    });
  });
});
