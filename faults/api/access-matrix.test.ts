import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCloud, type TestCloud } from '../../controller/identity/testing/kit.js';

/**
 * The cross-project access matrix, generated from the controller's route table: one of
 * each resource is made in project A by A's member; then every route whose path names
 * one of them is called (a) as a member of project B — nothing may succeed — and (b) as
 * a reader of project A — only GET may succeed. No 5xx anywhere. Writes carry a body
 * the owner's call accepts, so a reader's refusal comes from the policy.
 */
let c: TestCloud;
const ids: Record<string, string> = {};
let tokA = '';
let tokB = '';
let tokR = '';
const figures = { routes: 0, calls: 0 };

const ok = (r: { status: number; body: unknown }, what: string) => {
  expect(r.status, `${what}: ${JSON.stringify(r.body).slice(0, 300)}`).toBeLessThan(300);
  return r.body as any;
};

beforeAll(async () => {
  c = await testCloud();
  const adm = c.adminToken;
  const role = async (name: string) => (await c.req('GET', `/v3/roles?name=${name}`, adm)).body.roles[0].id as string;
  const [member, reader] = [await role('member'), await role('reader')];
  for (const p of ['tmx-a', 'tmx-b'])
    ids[p] = ok(await c.req('POST', '/v3/projects', adm, { project: { name: p, domain_id: 'default' } }), p).project.id;
  for (const [u, p, r] of [
    ['tmx-alice', 'tmx-a', member],
    ['tmx-rita', 'tmx-a', reader],
    ['tmx-bob', 'tmx-b', member],
  ] as const) {
    ids[u] = ok(
      await c.req('POST', '/v3/users', adm, { user: { name: u, password: `${u}-password-1`, domain_id: 'default' } }),
      u,
    ).user.id;
    expect((await c.req('PUT', `/v3/projects/${ids[p]}/users/${ids[u]}/roles/${r}`, adm)).status).toBe(204);
  }
  tokA = (await c.login('tmx-alice', 'tmx-alice-password-1', 'tmx-a')).token;
  tokR = (await c.login('tmx-rita', 'tmx-rita-password-1', 'tmx-a')).token;
  tokB = (await c.login('tmx-bob', 'tmx-bob-password-1', 'tmx-b')).token;

  // The cloud: a public flavor and an external network (admin).
  const flavor = ok(
    await c.req('POST', '/compute/v2.1/flavors', adm, { flavor: { name: 'tmx-tiny', ram: 64, vcpus: 1, disk: 1 } }),
    'flavor',
  ).flavor.id;
  const ext = ok(
    await c.req('POST', '/network/v2.0/networks', adm, { network: { name: 'tmx-ext', 'router:external': true } }),
    'ext',
  ).network.id;
  ok(
    await c.req('POST', '/network/v2.0/subnets', adm, {
      subnet: { network_id: ext, cidr: '198.51.100.0/26', ip_version: 4, enable_dhcp: false },
    }),
    'ext subnet',
  );

  // Project A's resources, made by its member.
  const A = (m: string, u: string, b?: unknown) => c.req(m, u, tokA, b);
  ids.network = ok(await A('POST', '/network/v2.0/networks', { network: { name: 'tmx-net' } }), 'network').network.id;
  ids.subnet = ok(
    await A('POST', '/network/v2.0/subnets', { subnet: { network_id: ids.network, cidr: '10.99.0.0/24', ip_version: 4 } }),
    'subnet',
  ).subnet.id;
  ids.port = ok(await A('POST', '/network/v2.0/ports', { port: { network_id: ids.network } }), 'port').port.id;
  ids.router = ok(
    await A('POST', '/network/v2.0/routers', { router: { name: 'tmx-r', external_gateway_info: { network_id: ext } } }),
    'router',
  ).router.id;
  ids.sg = ok(await A('POST', '/network/v2.0/security-groups', { security_group: { name: 'tmx-sg' } }), 'sg').security_group.id;
  ids.sgr = ok(
    await A('POST', '/network/v2.0/security-group-rules', {
      security_group_rule: {
        security_group_id: ids.sg,
        direction: 'ingress',
        protocol: 'tcp',
        port_range_min: 22,
        port_range_max: 22,
      },
    }),
    'rule',
  ).security_group_rule.id;
  ids.fip = ok(await A('POST', '/network/v2.0/floatingips', { floatingip: { floating_network_id: ext } }), 'fip').floatingip.id;
  ids.image = ok(
    await A('POST', '/image/v2/images', { name: 'tmx-img', disk_format: 'raw', container_format: 'bare' }),
    'image',
  ).id;
  ok(
    await c.req('PUT', `/image/v2/images/${ids.image}/file`, tokA, 'x'.repeat(4096), {
      'content-type': 'application/octet-stream',
    }),
    'image data',
  );
  ids.volume = ok(
    await A('POST', `/volume/v3/${ids['tmx-a']}/volumes`, { volume: { size: 1, name: 'tmx-vol' } }),
    'volume',
  ).volume.id;
  ok(
    await A('POST', '/compute/v2.1/os-keypairs', {
      keypair: {
        name: 'tmx-key',
        public_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDz5sbWq4QfIR6gB2+9kQa2iYFqRhvcJbGdRQ7mHnYUo t@h',
      },
    }),
    'keypair',
  );
  ids.keypair = 'tmx-key';
  ids.server = ok(
    await A('POST', '/compute/v2.1/servers', {
      server: { name: 'tmx-vm', imageRef: ids.image, flavorRef: flavor, networks: 'none' },
    }),
    'server',
  ).server.id;
  ids.sgroup = ok(
    await A('POST', '/compute/v2.1/os-server-groups', { server_group: { name: 'tmx-g', policies: ['anti-affinity'] } }),
    'server group',
  ).server_group.id;
  ids.appcred = ok(
    await A('POST', `/v3/users/${ids['tmx-alice']}/application_credentials`, { application_credential: { name: 'tmx-ac' } }),
    'app cred',
  ).application_credential.id;
}, 120_000);
afterAll(async () => {
  console.log(
    `[figures] access matrix: ${figures.routes} routes naming a project-A resource, ${figures.calls} calls (member of B on every verb, reader of A on every write)`,
  );
  await c?.close();
});

/** The project-A resource a path parameter names, from the collection before it; null when none. */
function valueFor(prev: string, param: string): string | null {
  const m: Record<string, string> = {
    servers: ids.server!,
    networks: ids.network!,
    subnets: ids.subnet!,
    ports: ids.port!,
    routers: ids.router!,
    'security-groups': ids.sg!,
    'security-group-rules': ids.sgr!,
    floatingips: ids.fip!,
    images: ids.image!,
    volumes: ids.volume!,
    'os-keypairs': ids.keypair!,
    'os-server-groups': ids.sgroup!,
    projects: ids['tmx-a']!,
    users: ids['tmx-alice']!,
    application_credentials: ids.appcred!,
    'os-quota-sets': ids['tmx-a']!,
    quotas: ids['tmx-a']!,
    'os-simple-tenant-usage': ids['tmx-a']!,
  };
  if (param === ':project_id' && prev === 'v3') return ids['tmx-a']!;
  return m[prev] ?? null;
}

/**
 * Routes a member of another project may call with project A's id in the path, each
 * with its reason. Keep it short: anything else that answers 2xx is a leak.
 */
const PUBLIC: Record<string, string> = {
  'GET /compute/v2.1/os-quota-sets/:id/defaults':
    "Nova: the cloud's default quotas (policy os-quota-sets:defaults is any user), not project data",
  'GET /volume/v3/os-quota-sets/:tenant/defaults': "Cinder: the cloud's default quotas, not project data",
  'GET /volume/v3/:project_id': 'the v3 version document (discovery; clients call it with their own project id)',
  'POST /identity/v3/users/:id/password':
    "Keystone: a user's own password change is @unenforced_api (no policy); the original password is the proof, a wrong one is 401",
  'POST /v3/users/:id/password': 'the same route at the root mount',
};

/**
 * Write routes that refuse an empty body by validation: a VALID body for each (one the
 * route accepts from the resource's owner — checked below), so the reader's refusal is
 * the policy's, not the validator's. A write route that answers the reader 400/415 and
 * has no entry here fails the test: new routes must be added.
 */
const JSON_PATCH = { 'content-type': 'application/openstack-images-v2.1-json-patch' };
const VALID: Record<string, { body: unknown; headers?: Record<string, string> }> = {
  'PATCH /image/v2/images/:id': { body: [{ op: 'replace', path: '/name', value: 'tmx-renamed' }], headers: JSON_PATCH },
  'PUT /image/v2/images/:id/file': { body: 'y'.repeat(512), headers: { 'content-type': 'application/octet-stream' } },
  'PUT /image/v2/images/:id/stage': { body: 'y'.repeat(512), headers: { 'content-type': 'application/octet-stream' } },
  'POST /image/v2/images/:id/import': { body: { method: { name: 'glance-direct' } } },
  'POST /compute/v2.1/servers/:id/action': { body: { 'os-stop': null } },
  'PUT /network/v2.0/networks/:id': { body: { network: { name: 'tmx-renamed' } } },
  'PUT /network/v2.0/subnets/:id': { body: { subnet: { name: 'tmx-renamed' } } },
  'PUT /network/v2.0/ports/:id': { body: { port: { name: 'tmx-renamed' } } },
  'PUT /network/v2.0/routers/:id': { body: { router: { name: 'tmx-renamed' } } },
  'PUT /network/v2.0/floatingips/:id': { body: { floatingip: { description: 'tmx-renamed' } } },
  'PUT /network/v2.0/security-groups/:id': { body: { security_group: { name: 'tmx-renamed' } } },
  'POST /volume/v3/:project_id/volumes/:id/action': { body: { 'os-set_bootable': { bootable: true } } },
  'POST /volume/v3/volumes/:id/action': { body: { 'os-update_readonly_flag': { readonly: true } } },
};

function concrete(url: string): { path: string; names: boolean } | null {
  const segs = url.split('/');
  let names = false;
  for (let i = 0; i < segs.length; i++) {
    if (!segs[i]!.startsWith(':')) continue;
    const p = segs[i]!.replace(/\.json$/, '');
    const v = valueFor(segs[i - 1]!, p);
    if (v) names = true;
    segs[i] = (v ?? randomUUID()) + (segs[i]!.endsWith('.json') ? '.json' : '');
  }
  return { path: segs.join('/'), names };
}

describe('cross-project access matrix (from the route table)', () => {
  it('a member of another project gets nothing; a reader changes nothing', async () => {
    const routes = c.app.homestack.routes.filter(
      (r) => r.url.includes(':') && !/^\/(dashboard|console|internal)/.test(r.url) && r.url !== '/metrics',
    );
    const leaks: string[] = [];
    const errors: string[] = [];
    const readerStatus: Record<string, number> = {};
    const inconclusive: string[] = [];
    const validUsed: Array<{ key: string; path: string }> = [];
    // Reads first, then writes (a leaked DELETE would hide later findings), each role on its own.
    const order = [...routes].sort(
      (a, b) =>
        Number(a.method !== 'GET') - Number(b.method !== 'GET') || Number(a.method === 'DELETE') - Number(b.method === 'DELETE'),
    );
    for (const r of order) {
      const q = concrete(r.url);
      if (!q?.names || PUBLIC[`${r.method} ${r.url}`]) continue;
      figures.routes++;
      const key = `${r.method} ${r.url}`;
      const valid = VALID[key];
      const body = valid ? valid.body : r.method === 'GET' || r.method === 'DELETE' ? undefined : {};
      if (valid) validUsed.push({ key, path: q.path });
      const callers: Array<[string, string]> = [['member of B', tokB]];
      if (r.method !== 'GET') callers.push(['reader of A', tokR]);
      for (const [who, tok] of callers) {
        const res = await c.req(r.method, q.path, tok, body, valid?.headers);
        figures.calls++;
        if (who === 'reader of A') {
          readerStatus[res.status] = (readerStatus[res.status] ?? 0) + 1;
          if ([400, 415, 422].includes(res.status)) inconclusive.push(`${key} → ${res.status}`);
        }
        if (res.status >= 500) errors.push(`${who} ${r.method} ${r.url} → ${res.status}`);
        else if (res.status < 300)
          leaks.push(`${who} ${r.method} ${r.url} → ${res.status} ${JSON.stringify(res.body).slice(0, 160)}`);
      }
    }
    expect(figures.routes).toBeGreaterThan(100);
    expect(errors).toEqual([]);
    expect(leaks).toEqual([]);
    // Every reader write was judged by the policy (or the resource was hidden), none by
    // the body validator.
    expect(inconclusive).toEqual([]);
    // The VALID bodies are valid: the owner's same call is not refused by validation.
    const owner: string[] = [];
    for (const { key, path } of validUsed) {
      const res = await c.req(key.split(' ')[0]!, path, tokA, VALID[key]!.body, VALID[key]!.headers);
      owner.push(`${key} → ${res.status}`);
      expect([400, 401, 403, 404, 415, 422], `owner ${key}: ${JSON.stringify(res.body).slice(0, 200)}`).not.toContain(res.status);
    }
    console.log(
      `[figures] reader of A on writes: ${JSON.stringify(readerStatus)}; owner with the same valid bodies: ${owner.join(', ')}`,
    );
  }, 120_000);
});
