import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerConfigSchema, type ControllerConfig } from '../../../shared/config/controller.js';
import { buildApp } from '../../app.js';
import { migrate } from '../../db/migrate.js';
import { openDb } from '../../db/open.js';
import { ensurePublicNetwork } from '../../networks/bootstrap.js';
import { bootstrap } from '../bootstrap.js';
import { CloudApi } from './api-client.js';
import {
  DEFAULT_FLAVORS,
  DEMO,
  ensureDemoNetwork,
  ensureDemoPassword,
  ensureDemoUser,
  ensureFlavors,
  ensureTestImage,
  TEST_IMAGE_NAME,
} from './first-run.js';

/**
 * The install's first-run steps against a real controller (buildApp, listening on
 * loopback, no agents): what they create, and that a second run finds it all and
 * changes nothing.
 */
let dir: string;
let app: FastifyInstance;
let base: string;
let externalId: string;
const said: string[] = [];
const say = (s: string) => said.push(s);

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tfirstrun-'));
  const config = Value.Default(ControllerConfigSchema, {
    data_dir: dir,
    identity: { scrypt_log_n: 10 },
    images: { qemu_img_check: false },
  }) as ControllerConfig;
  const db = openDb(':memory:');
  migrate(db);
  const b = await bootstrap(db, config, { adminPassword: 'admin-pw', publicUrl: 'http://127.0.0.1:1' });
  externalId = ensurePublicNetwork({ db, config }, { projectId: b.adminProjectId }).networkId;
  app = await buildApp({ config, db, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  // A qcow2 header is all the image checks need (qemu-img is off here).
  const img = Buffer.alloc(1 << 16);
  img.write('QFI\xfb', 0, 'latin1');
  img.writeUInt32BE(3, 4);
  img.writeBigUInt64BE(BigInt(32 << 20), 24);
  img.writeUInt32BE(104, 100);
  writeFileSync(join(dir, 'guest.qcow2'), img);
  writeFileSync(join(dir, 'guest2.qcow2'), Buffer.concat([img, Buffer.alloc(512, 1)]));
});
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

async function runAll(image: string, password: string): Promise<CloudApi> {
  const admin = await CloudApi.login(base, { username: 'admin', password: 'admin-pw', project: 'admin' });
  await ensureFlavors(admin, say);
  await ensureTestImage(admin, image, say);
  const { userId } = await ensureDemoUser(admin, password, say);
  const demo = await ensureDemoPassword(
    admin,
    () => CloudApi.login(base, { username: DEMO.user, password, project: DEMO.project }),
    userId,
    password,
    say,
  );
  await ensureDemoNetwork(demo, externalId, say);
  return demo;
}

describe('first-run setup (flavors, test image, demo project and network)', () => {
  it('creates everything once, as the demo user sees it', async () => {
    const demo = await runAll(join(dir, 'guest.qcow2'), 'demo-pw-1');
    expect(said.join('\n')).toMatch(/created 6 flavor/);
    const { flavors } = await demo.call('GET', '/compute/v2.1/flavors/detail');
    for (const f of DEFAULT_FLAVORS) {
      expect(flavors.find((x: { name: string }) => x.name === f.name)).toMatchObject({
        id: f.id,
        ram: f.ram,
        vcpus: f.vcpus,
        disk: f.disk,
      });
    }
    const { images } = await demo.call('GET', '/image/v2/images');
    expect(images).toEqual([expect.objectContaining({ name: TEST_IMAGE_NAME, status: 'active', visibility: 'public' })]);
    const { networks } = await demo.call('GET', '/network/v2.0/networks?name=private');
    expect(networks).toEqual([expect.objectContaining({ project_id: demo.projectId })]);
    const { subnets } = await demo.call('GET', `/network/v2.0/subnets?network_id=${networks[0].id}`);
    expect(subnets).toEqual([expect.objectContaining({ name: 'private-subnet', cidr: '10.0.0.0/24' })]);
    const { routers } = await demo.call('GET', '/network/v2.0/routers');
    expect(routers).toEqual([
      expect.objectContaining({ name: 'router1', external_gateway_info: expect.objectContaining({ network_id: externalId }) }),
    ]);
    const { ports } = await demo.call('GET', `/network/v2.0/ports?device_id=${routers[0].id}`);
    expect(
      ports.some((p: { fixed_ips: Array<{ subnet_id: string }> }) => p.fixed_ips.some((f) => f.subnet_id === subnets[0].id)),
    ).toBe(true);
  });

  it('changes nothing when run again, resets a changed password, and replaces a rebuilt image without deleting the old', async () => {
    said.length = 0;
    await runAll(join(dir, 'guest.qcow2'), 'demo-pw-1');
    expect(said).toEqual([]);
    // The openrc's password is the truth: a second install with another password sets it.
    const demo = await runAll(join(dir, 'guest2.qcow2'), 'demo-pw-2');
    expect(said.join('\n')).toMatch(/reset the password of demo/);
    expect(said.join('\n')).toMatch(/older build is hidden/);
    const { images } = await demo.call('GET', '/image/v2/images');
    expect(images.map((i: { name: string }) => i.name)).toEqual([TEST_IMAGE_NAME]);
    const admin = await CloudApi.login(base, { username: 'admin', password: 'admin-pw', project: 'admin' });
    const all = await admin.call('GET', '/image/v2/images?os_hidden=true');
    expect(all.images.map((i: { name: string }) => i.name)).toEqual([expect.stringMatching(/^homestack-guest-[0-9a-f]{8}$/)]);
    const routers = await demo.call('GET', '/network/v2.0/routers');
    expect(routers.routers).toHaveLength(1);
  });
});
