/**
 * Benchmarks (a) and (b) of issue 6, against a running cloud with a compute agent:
 *   (a) control-plane overhead per boot = (create request → ACTIVE) minus the time the
 *       agent spent inside libvirt's domain start (reported in the spawn reply and kept
 *       in the instance-action event), median and p95 over N sequential boots;
 *   (b) N concurrent creates: all ACTIVE, and no host over its allocation ratio.
 *
 *   source openrc; npx tsx scripts/bench/compute-boot.ts --image IMAGE --network NET|none \
 *       [--config /etc/homestack/controller.toml] [--boots 20] [--concurrent 20] [--ram 192]
 *
 * It reads the controller's database (read-only) for the libvirt start times and the
 * allocations; run it on the controller host.
 */
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ControllerConfigSchema } from '../../shared/config/controller.js';
import { configPath, loadConfig } from '../../shared/config/load.js';
import { capacity } from '../../controller/compute/placement.js';

const arg = (name: string, def?: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? process.argv[i + 1] : undefined;
  if (v === undefined && def === undefined) throw new Error(`--${name} is required`);
  return v ?? def!;
};
const env = (k: string) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (source an openrc)`);
  return v;
};
const pct = (xs: number[], p: number) =>
  xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function auth(): Promise<{ token: string; compute: string; network: string; image: string }> {
  const url = env('OS_AUTH_URL').replace(/\/+$/, '');
  const body = {
    auth: {
      identity: {
        methods: ['password'],
        password: {
          user: {
            name: env('OS_USERNAME'),
            domain: { name: process.env.OS_USER_DOMAIN_NAME ?? 'Default' },
            password: env('OS_PASSWORD'),
          },
        },
      },
      scope: { project: { name: env('OS_PROJECT_NAME'), domain: { name: process.env.OS_PROJECT_DOMAIN_NAME ?? 'Default' } } },
    },
  };
  const r = await fetch(`${url.endsWith('/v3') ? url : `${url}/v3`}/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  if (r.status !== 201) throw new Error(`login: ${r.status} ${await r.text()}`);
  const j = (await r.json()) as {
    token: { catalog: Array<{ type: string; endpoints: Array<{ interface: string; url: string }> }> };
  };
  const ep = (t: string) =>
    j.token.catalog
      .find((s) => s.type === t)
      ?.endpoints.find((e) => e.interface === 'public')
      ?.url.replace(/\/+$/, '') ?? '';
  return { token: r.headers.get('x-subject-token')!, compute: ep('compute'), network: ep('network'), image: ep('image') };
}

async function main(): Promise<void> {
  const config = loadConfig(
    ControllerConfigSchema,
    configPath(process.argv, 'HOMESTACK_CONTROLLER_CONFIG', '/etc/homestack/controller.toml'),
  );
  const db = new Database(config.database.path || join(config.data_dir, 'homestack.db'), { readonly: true, fileMustExist: true });
  const a = await auth();
  const api = async (method: string, url: string, body?: unknown) => {
    const r = await fetch(url, {
      method,
      headers: { 'x-auth-token': a.token, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    return { status: r.status, body: text ? JSON.parse(text) : null };
  };
  const find = async (base: string, coll: string, nameOrId: string) => {
    const byId = await api('GET', `${base}/${coll}/${nameOrId}`);
    if (byId.status === 200) return Object.values(byId.body as object)[0].id as string;
    const l = await api('GET', `${base}/${coll}?name=${encodeURIComponent(nameOrId)}`);
    const items = Object.values(l.body as object).find(Array.isArray) as Array<{ id: string }>;
    if (!items?.length) throw new Error(`${coll} ${nameOrId} not found`);
    return items[0]!.id;
  };
  const image = await find(`${a.image}/v2`, 'images', arg('image'));
  // `--network none`: guests without a NIC (measures compute alone).
  const network = arg('network') === 'none' ? null : await find(`${a.network}/v2.0`, 'networks', arg('network'));
  const run = `bench${Date.now()}`;
  const fl = await api('POST', `${a.compute}/flavors`, {
    flavor: { name: `${run}-flavor`, ram: Number(arg('ram', '192')), vcpus: 1, disk: 1, id: null },
  });
  if (fl.status !== 200) throw new Error(`flavor: ${fl.status} ${JSON.stringify(fl.body)}`);
  const flavor = fl.body.flavor.id as string;
  const created: string[] = [];
  const create = async (name: string) => {
    const r = await api('POST', `${a.compute}/servers`, {
      server: { name, imageRef: image, flavorRef: flavor, networks: network ? [{ uuid: network }] : 'none' },
    });
    if (r.status !== 202) throw new Error(`create: ${r.status} ${JSON.stringify(r.body)}`);
    created.push(r.body.server.id);
    return r.body.server.id as string;
  };
  const waitFor = async (id: string, timeoutMs = 600_000) => {
    const t0 = Date.now();
    for (;;) {
      const s = (await api('GET', `${a.compute}/servers/${id}`)).body.server;
      if (s.status === 'ACTIVE' || s.status === 'ERROR') return s;
      if (Date.now() - t0 > timeoutMs) throw new Error(`${id} still ${s.status}`);
      await sleep(20);
    }
  };
  const libvirtMs = (id: string): number => {
    const r = db
      .prepare(
        `SELECT e.details FROM instance_action_events e JOIN instance_actions a ON a.id = e.action_id
        WHERE a.instance_id = ? AND e.event = 'compute_build_and_run_instance' AND e.result = 'Success' ORDER BY e.id DESC LIMIT 1`,
      )
      .get(id) as { details: string | null } | undefined;
    const m = /libvirt_start_ms=([\d.]+)/.exec(r?.details ?? '');
    return m ? Number(m[1]) : NaN;
  };
  const serverSide = (id: string): number => {
    const r = db.prepare('SELECT created_at, launched_at FROM instances WHERE id = ?').get(id) as {
      created_at: string;
      launched_at: string;
    };
    return Date.parse(r.launched_at) - Date.parse(r.created_at);
  };
  const cleanup = async () => {
    for (const id of created.splice(0)) await api('DELETE', `${a.compute}/servers/${id}`);
    // Creates still in flight when a run failed: find them by name.
    const left = (await api('GET', `${a.compute}/servers?name=${encodeURIComponent(`^${run}-`)}`)).body?.servers ?? [];
    for (const sv of left as Array<{ id: string }>) await api('DELETE', `${a.compute}/servers/${sv.id}`);
  };
  // The default quota (10 instances, 20 cores) would refuse 20 concurrent creates:
  // lift it for the run and put it back afterwards.
  const projectId = await projectOf();
  const before = (await api('GET', `${a.compute}/os-quota-sets/${projectId}`)).body.quota_set as Record<string, number>;
  await api('PUT', `${a.compute}/os-quota-sets/${projectId}`, { quota_set: { instances: -1, cores: -1, ram: -1 } });
  async function projectOf(): Promise<string> {
    const r = await fetch(`${env('OS_AUTH_URL').replace(/\/+$/, '')}/auth/tokens`, {
      headers: { 'x-auth-token': a.token, 'x-subject-token': a.token },
    });
    return ((await r.json()) as { token: { project: { id: string } } }).token.project.id;
  }
  try {
    // (a) sequential boots.
    const n = Number(arg('boots', '20'));
    const over: number[] = [];
    const overServer: number[] = [];
    const starts: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const id = await create(`${run}-a${i}`);
      const s = await waitFor(id);
      const total = performance.now() - t0;
      if (s.status !== 'ACTIVE') throw new Error(`boot ${i} ended in ERROR: ${JSON.stringify(s.fault)}`);
      const lv = libvirtMs(id);
      starts.push(lv);
      over.push(total - lv);
      overServer.push(serverSide(id) - lv);
      await cleanup();
    }
    console.log(
      `(a) ${n} boots: control-plane overhead (client view, 20 ms polling) median ${pct(over, 50).toFixed(0)} ms, p95 ${pct(over, 95).toFixed(0)} ms;` +
        ` server view (created_at → launched_at) median ${pct(overServer, 50).toFixed(0)} ms, p95 ${pct(overServer, 95).toFixed(0)} ms;` +
        ` libvirt start median ${pct(starts, 50).toFixed(0)} ms`,
    );

    // (b) concurrent creates.
    const m = Number(arg('concurrent', '20'));
    const ids = await Promise.all(Array.from({ length: m }, (_, i) => create(`${run}-b${i}`)));
    const states = await Promise.all(ids.map((id) => waitFor(id)));
    const active = states.filter((s) => s.status === 'ACTIVE').length;
    const rows = db
      .prepare(
        `SELECT h.name, h.vcpus, h.memory_mb, h.disk_gb, COALESCE(SUM(a.vcpus),0) AS uv, COALESCE(SUM(a.memory_mb),0) AS um, COALESCE(SUM(a.disk_gb),0) AS ud
         FROM hosts h LEFT JOIN allocations a ON a.host_id = h.id GROUP BY h.id`,
      )
      .all() as Array<{ name: string; vcpus: number; memory_mb: number; disk_gb: number; uv: number; um: number; ud: number }>;
    const ratios = {
      cpu: config.compute.cpu_allocation_ratio,
      ram: config.compute.ram_allocation_ratio,
      disk: config.compute.disk_allocation_ratio,
    };
    const overHosts = rows.filter((r) => {
      const c = capacity(r, ratios);
      return r.uv > c.vcpus || r.um > c.memory_mb || r.ud > c.disk_gb;
    });
    console.log(
      `(b) ${m} concurrent creates: ${active} ACTIVE, ${m - active} ERROR; hosts over their allocation ratio: ${overHosts.length}` +
        ` (${rows.map((r) => `${r.name} ${r.um}/${capacity(r, ratios).memory_mb} MB`).join(', ')})`,
    );
    if (active !== m || overHosts.length) process.exitCode = 1;
  } finally {
    await cleanup();
    await api('PUT', `${a.compute}/os-quota-sets/${projectId}`, {
      quota_set: { instances: before.instances, cores: before.cores, ram: before.ram },
    });
    await api('DELETE', `${a.compute}/flavors/${flavor}`);
    db.close();
  }
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
