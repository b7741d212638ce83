#!/usr/bin/env node
/**
 * Dashboard server-side figures: the time the controller takes to render the Instances
 * page with N instances (default 200), and the bytes of a first load (login page, the
 * Instances page after sign-in, and the static files it links).
 *
 *   npx tsx scripts/bench/dashboard.ts [--instances 200] [--runs 10]
 *
 * In this process: an in-memory controller (buildApp, bootstrapped identity), no agents
 * and no jobs, so the N servers stay in BUILD as plain records — the page does the same
 * API calls (servers/detail, flavors, images, limits) whatever their state. Each render
 * is timed around app.inject (the dashboard handler, its in-process API calls through
 * the session's token, and the layout), after one warm-up. The in-browser figures
 * (navigation timing in Chromium against a real cloud) are in
 * controller/dashboard/browser.system.test.ts ("figures").
 */
import { parseArgs } from 'node:util';
import { testCloud, ADMIN_PASSWORD } from '../../controller/identity/testing/kit.js';
import { InjectBrowser } from '../../controller/dashboard/testing/session.js';

const { values } = parseArgs({
  options: { instances: { type: 'string', default: '200' }, runs: { type: 'string', default: '10' } },
});
const N = Number(values.instances);
const RUNS = Number(values.runs);

const cloud = await testCloud();
try {
  const t = cloud.adminToken;
  const img = await cloud.req('POST', '/image/v2/images', t, {
    name: 'bench-img',
    disk_format: 'raw',
    container_format: 'bare',
    visibility: 'public',
  });
  await cloud.req('PUT', `/image/v2/images/${img.body.id}/file`, t, Buffer.alloc(4096), {
    'content-type': 'application/octet-stream',
  });
  const fl = await cloud.req('POST', '/compute/v2.1/flavors', t, {
    flavor: { name: 'bench-flavor', vcpus: 1, ram: 64, disk: 1 },
  });
  await cloud.req('PUT', `/compute/v2.1/os-quota-sets/${cloud.adminProjectId}`, t, {
    quota_set: { instances: -1, cores: -1, ram: -1 },
  });
  for (let i = 0; i < N; i += 20) {
    const n = Math.min(20, N - i);
    const r = await cloud.req('POST', '/compute/v2.1/servers', t, {
      server: {
        name: `bench-${i}`,
        imageRef: img.body.id,
        flavorRef: fl.body.flavor.id,
        min_count: n,
        max_count: n,
        networks: 'none',
      },
    });
    if (r.status !== 202) throw new Error(`server create: ${r.status} ${JSON.stringify(r.body)}`);
  }

  const b = new InjectBrowser(cloud.app);
  const login = await b.go('GET', '/dashboard/login');
  const signIn = await b.signIn('admin', ADMIN_PASSWORD);
  if (signIn.statusCode !== 303) throw new Error(`sign-in: ${signIn.statusCode}`);
  const first = await b.go('GET', '/dashboard/project/instances');
  const rows = (first.body.match(/data-server-id=/g) ?? []).length;
  const statics = [...new Set(first.body.match(/\/dashboard\/static\/[\w.-]+/g) ?? [])];
  let staticBytes = 0;
  for (const s of statics) staticBytes += (await b.go('GET', s)).rawPayload.length;

  const ms: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = process.hrtime.bigint();
    const r = await b.go('GET', '/dashboard/project/instances');
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
    if (r.statusCode !== 200) throw new Error(`instances page: ${r.statusCode}`);
  }
  ms.sort((a, c) => a - c);
  const bytes = login.rawPayload.length + first.rawPayload.length + staticBytes;
  console.log(
    JSON.stringify(
      {
        instances_on_page: rows,
        render_ms: {
          median: +ms[Math.floor(ms.length / 2)]!.toFixed(1),
          min: +ms[0]!.toFixed(1),
          max: +ms[ms.length - 1]!.toFixed(1),
          runs: RUNS,
        },
        first_load_bytes: {
          total: bytes,
          login: login.rawPayload.length,
          instances_page: first.rawPayload.length,
          static: staticBytes,
          static_files: statics,
        },
      },
      null,
      1,
    ),
  );
} finally {
  await cloud.close();
}
