/**
 * Issue 21: where one controller stops. Starts one real controller (dist/, production
 * defaults, its own port and data directory under /tmp) and grows a fleet of simulated
 * hosts (scripts/bench/fleet/sim-host.ts: the agent contract over HTTP, heartbeating at
 * the default interval) through the steps; at each step it boots `--per-host` servers per
 * new host (20 concurrent clients, over several projects, networks and security groups),
 * then measures idle cost, API latency under steady traffic, and how long a security
 * group change takes to reach every affected host. Prints a table, a text chart for the
 * README and writes an SVG next to the run's data.
 *
 *   npx tsx scripts/bench/fleet.ts [--steps 10,100,250,500,1000] [--per-host 2] [--spawn-ms 500]
 *       [--load-s 15] [--idle-s 20] [--projects 4] [--clients 20] [--death] [--cpu-prof] [--keep]
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { apiOf, fileMb, procSample, startController } from './fleet/cloud.js';
import { markdownTable, svgChart, textChart } from './fleet/chart.js';
import { measureLoad, pct, type Row } from './fleet/measure.js';
import { prepareCloud } from './fleet/setup.js';
import type { FleetMsg, HostSpec } from './fleet/sim-fleet.js';
import type { SimStats } from './fleet/sim-host.js';

const arg = (name: string, def: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1]! : def;
};
const flag = (name: string) => process.argv.includes(`--${name}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const HEARTBEAT_S = 10; // the agents' and controller's default

async function main(): Promise<void> {
  const steps = arg('steps', '10,100,250,500,1000').split(',').map(Number);
  const perHost = Number(arg('per-host', '2'));
  const spawnMs = Number(arg('spawn-ms', '500'));
  const clients = Number(arg('clients', '20'));
  const run = `fleet${process.pid.toString(36)}`;
  const dir = `/tmp/hs-${run}`;
  mkdirSync(dir, { recursive: true });
  const port = 20000 + Math.floor(Math.random() * 4000) * 2;
  const agentPort = port + 1;
  const max = Math.max(...steps);
  const hosts: HostSpec[] = Array.from({ length: max }, (_, i) => ({
    name: `${run}-h${String(i).padStart(4, '0')}`,
    ip: `127.77.${Math.floor(i / 250)}.${(i % 250) + 1}`,
    secret: randomBytes(24).toString('hex'),
  }));
  const t0 = Date.now();
  const ctl = await startController({ dir, port, agentPort, hosts, cpuProf: flag('cpu-prof') });
  const sim = fork(join(import.meta.dirname, 'fleet', 'sim-fleet.ts'), [], { execArgv: ['--import', 'tsx'], stdio: 'inherit' });
  const ask = <T>(m: FleetMsg): Promise<T> =>
    new Promise((resolve, reject) => {
      sim.once('message', (r: { t: string; message?: string }) =>
        r.t === 'error' ? reject(new Error(r.message)) : resolve(r as T),
      );
      sim.send(m);
    });
  const api = apiOf(ctl.url);
  const rows: Row[] = [];
  try {
    const cloud = await prepareCloud(api, run, Number(arg('projects', '4')));
    const admin = await api.token('admin');
    const servers: Array<{ id: string; tenant: number }> = [];
    let joined = 0;
    for (const n of steps) {
      const j = await ask<{ ok: number; ms: number }>({
        t: 'join',
        hosts: hosts.slice(joined, n),
        port: agentPort,
        controllerUrl: ctl.url,
        spawnMs,
        heartbeatS: HEARTBEAT_S,
      });
      if (j.ok !== n - joined) throw new Error(`only ${j.ok} of ${n - joined} hosts registered`);
      joined = n;
      await sleep(3000);

      // Boot storm: perHost servers per new host, 20 clients, round robin over projects and groups.
      const want = perHost * n - servers.length;
      const createMs: number[] = [];
      const ids: string[] = [];
      let next = 0;
      const tStorm = performance.now();
      await Promise.all(
        Array.from({ length: clients }, async () => {
          for (let i = next++; i < want; i = next++) {
            const k = (servers.length + i) % cloud.tenants.length;
            const t = cloud.tenants[k]!;
            const body = {
              server: {
                name: `${run}-s${servers.length + i}`,
                imageRef: cloud.image,
                flavorRef: cloud.flavor,
                networks: [{ uuid: t.network }],
                security_groups: [{ name: t.groups[i % 2] }],
              },
            };
            const r = await api.call('POST', '/compute/v2.1/servers', { token: t.token, body });
            if (r.status !== 202) throw new Error(`create: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
            createMs.push(r.ms);
            ids.push(r.body.server.id);
            servers.push({ id: r.body.server.id, tenant: k });
          }
        }),
      );
      let building = ids.length;
      let errors = 0;
      while (building > 0) {
        await sleep(500);
        const q = (s: string) => api.call('GET', `/compute/v2.1/servers?all_tenants=1&status=${s}&limit=1000`, { token: admin });
        building = (await q('BUILD')).body.servers.length;
        errors = (await q('ERROR')).body.servers.length;
        if (performance.now() - tStorm > 30 * 60_000) throw new Error(`${building} servers still BUILD after 30 min`);
      }
      const stormS = (performance.now() - tStorm) / 1000;
      const before = await ask<{ stats: SimStats }>({ t: 'stats' });
      const load = await measureLoad({
        api,
        admin,
        ctlPid: ctl.proc.pid!,
        cloud,
        servers,
        clients,
        loadS: Number(arg('load-s', '15')),
        idleS: Number(arg('idle-s', '20')),
        ask,
      });
      const after = await ask<{ stats: SimStats }>({ t: 'stats' });
      const d = (k: 'heartbeats' | 'heartbeatBytes' | 'syncs' | 'syncBytes') => after.stats[k] - before.stats[k];
      const row: Row = {
        hosts: n,
        instances: servers.length,
        joinS: j.ms / 1000,
        createP50: pct(createMs, 50),
        createP99: pct(createMs, 99),
        activePerS: ids.length / stormS,
        errors,
        ...load,
        rssMb: procSample(ctl.proc.pid!).rssMb,
        dbMb: fileMb(ctl.dbFile),
        hbBytes: d('heartbeats') ? d('heartbeatBytes') / d('heartbeats') : 0,
        syncBytes: after.stats.syncs ? after.stats.syncBytes / after.stats.syncs : 0,
        syncMaxBytes: after.stats.syncMaxBytes,
        syncs: after.stats.syncs,
        flaps: readFileSync(join(dir, 'controller.log'), 'utf8').split('heartbeats missed').length - 1,
        load1: loadavg()[0]!,
      };
      rows.push(row);
      console.log(JSON.stringify(row));
      if (Object.keys(after.stats.rejected).length) console.log('calls the simulated hosts refused:', after.stats.rejected);
    }
    if (flag('death')) await hostDeath(api, admin, hosts[0]!.name, ask);
    const s = await ask<{ stats: SimStats }>({ t: 'stats' });
    console.log(
      'calls received by the simulated hosts:',
      s.stats.calls,
      'heartbeat failures:',
      s.stats.heartbeatFailures,
      'registration retries:',
      s.stats.registerRetries,
    );
    console.log(markdownTable(rows));
    console.log(textChart(rows));
    writeFileSync(join(dir, 'fleet.svg'), svgChart(rows));
    writeFileSync(join(dir, 'fleet.json'), JSON.stringify(rows, null, 1));
    console.log(`chart: ${join(dir, 'fleet.svg')}; whole run ${((Date.now() - t0) / 60000).toFixed(1)} min`);
    const l = rows[rows.length - 1]!;
    console.log(
      `hosts ${l.hosts}, instances ${l.instances}: create p99 ${l.createP99.toFixed(0)} ms, list p99 ${l.listP99.toFixed(0)} ms, ` +
        `converge p99 ${l.convergeP99.toFixed(0)} ms, rss ${l.rssMb.toFixed(0)} MB, idle cpu ${l.idleCpu.toFixed(1)} %`,
    );
  } finally {
    sim.send({ t: 'stop' });
    await api.close();
    await ctl.stop();
    if (!flag('keep')) rmSync(dir, { recursive: true, force: true });
  }
}

/** One host stops heartbeating and listening; how long until the API says down, and up again once it returns. */
async function hostDeath(
  api: ReturnType<typeof apiOf>,
  admin: string,
  name: string,
  ask: <T>(m: FleetMsg) => Promise<T>,
): Promise<void> {
  const state = async () =>
    (await api.call('GET', `/compute/v2.1/os-services?binary=nova-compute&host=${name}`, { token: admin })).body.services[0]
      ?.state;
  let t = performance.now();
  await ask({ t: 'kill', name });
  while ((await state()) !== 'down') await sleep(250);
  const downS = (performance.now() - t) / 1000;
  t = performance.now();
  await ask({ t: 'revive', name, heartbeatS: HEARTBEAT_S });
  while ((await state()) !== 'up') await sleep(100);
  console.log(
    `host death: reported down after ${downS.toFixed(1)} s, up ${((performance.now() - t) / 1000).toFixed(1)} s after it returned`,
  );
}

void main().catch((e) => {
  console.error(e);
  process.exit(1);
});
