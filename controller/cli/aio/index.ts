import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { rootCertificates } from 'node:tls';
import { Agent } from 'undici';
import { makeRunner } from '../../../shared/exec/run.js';
import { caCertificates } from '../../../shared/tools/ca-certificates.js';
import { livePid, pidsByComm } from '../../../shared/exec/daemon.js';
import { HostRegistry } from '../../agents/registry.js';
import { bootstrap } from '../bootstrap.js';
import { ensurePublicNetwork } from '../../networks/bootstrap.js';
import { parsed, usageText, type CommandSpec } from '../args.js';
import { openContext, printTable } from '../context.js';
import { enrolLocal } from '../hosts.js';
import { startSystemDaemons, stopSystemDaemons, SYSTEM_DAEMONS, type StartedDaemon } from './daemons.js';
import { CloudApi } from './api-client.js';
import { DEMO, ensureDemoNetwork, ensureDemoPassword, ensureDemoUser, ensureFlavors, ensureTestImage } from './first-run.js';
import {
  AIO,
  agentToml,
  cloudsYaml,
  controllerToml,
  type CloudUser,
  ensureAdminPassword,
  ensurePassword,
  localHostName,
  openrc,
  primaryIp,
  writeOnce,
  writePrivate,
} from './files.js';
import { serviceRunning, startService, stopService, type StartedService } from './services.js';

/** What `aio up` started, so that `aio down` stops exactly that. */
interface AioState {
  daemons: StartedDaemon[];
  services: StartedService[];
}

/** The checkout: dist/controller/cli/aio → four levels up. */
export const repoRoot = (): string => resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

function readState(): AioState {
  try {
    return JSON.parse(readFileSync(AIO.state, 'utf8')) as AioState;
  } catch {
    return { daemons: [], services: [] };
  }
}
function saveState(s: AioState): void {
  writePrivate(AIO.state, `${JSON.stringify(s, null, 2)}\n`);
}

const say = (s: string) => process.stdout.write(`aio: ${s}\n`);

/** Up, with a registration or heartbeat since `since` (a row left `up` by a stopped controller does not count). */
async function waitHostUp(name: string, since: Date, timeoutMs: number): Promise<boolean> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    const ctx = openContext(['--config', AIO.controllerToml]);
    try {
      const h = new HostRegistry(ctx.db, ctx.config).find(name);
      if (h?.state === 'up' && h.last_heartbeat_at && h.last_heartbeat_at >= since.toISOString()) return true;
    } finally {
      ctx.close();
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  return false;
}

/**
 * The cloud's CA for clients on this host: a copy at AIO.caCert (0644, what OS_CACERT and
 * clouds.yaml's `cacert` name) and in the host's trust store (curl and other clients with
 * no CA option). The CA itself (key 0600) stays in <data_dir>/pki.
 */
async function publishCa(run: ReturnType<typeof makeRunner>, dataDir: string): Promise<string> {
  const pem = readFileSync(join(dataDir, 'pki', 'ca.pem'), 'utf8');
  if (!existsSync(AIO.caCert) || readFileSync(AIO.caCert, 'utf8') !== pem) {
    writeFileSync(AIO.caCert, pem, { mode: 0o644 });
    chmodSync(AIO.caCert, 0o644);
    say(`wrote the cloud's CA certificate to ${AIO.caCert}`);
  }
  if (await caCertificates(run).install(AIO.systemCaCert, pem)) say(`the host trusts the cloud's CA (${AIO.systemCaCert})`);
  return pem;
}

/** Where scripts/build-test-image.sh leaves the test guest (scripts/aio.sh builds it first). */
export const testImagePath = (root: string): string => join(root, 'build/test-image/homestack-guest.qcow2');

/**
 * What makes the cloud usable right away (issue 16): the default flavors, the test
 * image as a public image, the demo project and user, and the demo's `private`
 * network with `router1` to the external network. Each step finds what is there by
 * name and creates only what is missing.
 */
async function firstRun(o: {
  /** The controller on this machine: http(s)://127.0.0.1:port. */
  local: string;
  /** The cloud's CA certificate (PEM) when the controller serves HTTPS. */
  ca: string | null;
  adminPassword: string;
  demoPassword: string;
  externalNetworkId: string;
  image: string | null;
}): Promise<void> {
  const base = o.local;
  const dispatcher = o.ca ? new Agent({ connect: { ca: [...rootCertificates, o.ca] } }) : undefined;
  try {
    await firstRunSteps(base, dispatcher, o);
  } finally {
    await dispatcher?.close();
  }
}

async function firstRunSteps(
  base: string,
  dispatcher: Agent | undefined,
  o: { adminPassword: string; demoPassword: string; externalNetworkId: string; image: string | null },
): Promise<void> {
  const admin = await CloudApi.login(base, { username: 'admin', password: o.adminPassword, project: 'admin' }, dispatcher);
  await ensureFlavors(admin, say);
  if (o.image && existsSync(o.image)) await ensureTestImage(admin, o.image, say);
  else say(`no test image at ${o.image}: run scripts/build-test-image.sh, then aio up again (scripts/aio.sh does both)`);
  const { userId } = await ensureDemoUser(admin, o.demoPassword, say);
  const demo = await ensureDemoPassword(
    admin,
    () => CloudApi.login(base, { username: DEMO.user, password: o.demoPassword, project: DEMO.project }, dispatcher),
    userId,
    o.demoPassword,
    say,
  );
  await ensureDemoNetwork(demo, o.externalNetworkId, say);
}

async function up(bare = false): Promise<number> {
  const t0 = Date.now();
  if (process.getuid?.() !== 0) {
    process.stderr.write('homestack aio up: run as root\n');
    return 1;
  }
  const run = makeRunner();
  const root = repoRoot();
  if (!existsSync(join(root, 'dist/controller/main.js'))) {
    process.stderr.write(`homestack aio up: ${root}/dist is missing: run scripts/aio.sh (npm ci && npm run build) first\n`);
    return 1;
  }
  const state = readState();

  // 0. The `homestack` command on PATH (a wrapper around this checkout's build).
  const wrapper = '/usr/local/bin/homestack';
  const wrapperText = `#!/bin/sh\n# homestack CLI (written by homestack aio up)\nexec ${process.execPath} ${join(root, 'dist/controller/cli/main.js')} "$@"\n`;
  if (!existsSync(wrapper) || readFileSync(wrapper, 'utf8').includes('written by homestack aio up')) {
    writeFileSync(wrapper, wrapperText, { mode: 0o755 });
    chmodSync(wrapper, 0o755);
  }

  // 1. System daemons the agent roles need.
  const d = await startSystemDaemons(run, say);
  state.daemons.push(...d.started);
  saveState(state);
  for (const r of d.report)
    if (r.state === 'failed') say(`warning: ${r.name} is not running (${r.error}); roles that need it will be unavailable`);

  // 2. Configs, the host credential, the admin password (all reused when present).
  const ip = primaryIp();
  if (writeOnce(AIO.controllerToml, controllerToml(ip))) say(`wrote ${AIO.controllerToml}`);
  if (writeOnce(AIO.agentToml, agentToml(ip))) say(`wrote ${AIO.agentToml}`);
  const local = await enrolLocal(['--config', AIO.controllerToml, '--agent-config', AIO.agentToml], say);
  say(`local host ${local.name} enrolled (credential ${AIO.agentKey})`);

  // 3. Identity: admin user, roles, catalog at the public URL.
  const pw = ensureAdminPassword();
  const ctx = openContext(['--config', AIO.controllerToml]);
  let publicUrl: string;
  let externalNetworkId: string;
  // HTTPS ([tls] enabled, the default of a fresh all-in-one): the cloud's CA for the clients.
  let caPem: string | null = null;
  const localUrl = `${ctx.config.tls.enabled ? 'https' : 'http'}://127.0.0.1:${AIO.port}`;
  try {
    if (ctx.config.tls.enabled) caPem = await publishCa(run, ctx.config.data_dir);
    const b = await bootstrap(ctx.db, ctx.config, { adminPassword: pw.password });
    publicUrl = b.publicUrl;
    say(`bootstrapped identity at ${publicUrl}${b.changes.length ? ` (${b.changes.length} changes)` : ''}`);
    // The external network `public` (flat, router:external, 198.51.100.0/24), as devstack makes it.
    const pub = ensurePublicNetwork({ db: ctx.db, config: ctx.config }, { projectId: b.adminProjectId });
    externalNetworkId = pub.networkId;
    if (pub.created) say(`created the external network public (${pub.networkId})`);
  } finally {
    ctx.close();
  }
  const cacert = caPem ? AIO.caCert : undefined;
  writePrivate(AIO.openrc, openrc(publicUrl, pw.password, 'RegionOne', undefined, cacert));
  // The demo user's password and openrc (kept from an earlier run even with --bare).
  const demoPw = bare
    ? existsSync(AIO.demoPassword)
      ? ensurePassword(AIO.demoPassword)
      : null
    : ensurePassword(AIO.demoPassword);
  const more: Record<string, CloudUser> = {};
  if (demoPw) {
    more['homestack-demo'] = { username: DEMO.user, password: demoPw.password, project: DEMO.project };
    writePrivate(
      AIO.demoOpenrc,
      openrc(publicUrl, demoPw.password, 'RegionOne', { username: DEMO.user, project: DEMO.project }, cacert),
    );
  }
  const cy = cloudsYaml(publicUrl, pw.password, 'RegionOne', more, cacert);
  const cyOurs = !existsSync(AIO.cloudsYaml) || readFileSync(AIO.cloudsYaml, 'utf8').includes('  homestack:\n');
  if (cyOurs) writePrivate(AIO.cloudsYaml, cy);
  else {
    writePrivate(join(AIO.etc, 'clouds.yaml'), cy);
    say(`${AIO.cloudsYaml} has other clouds: wrote ${AIO.etc}/clouds.yaml instead (OS_CLIENT_CONFIG_FILE)`);
  }

  // 4. Controller, then the local agent.
  const startedAt = new Date();
  for (const s of ['controller', 'agent'] as const) {
    const st = await startService(run, root, s);
    if (st) {
      state.services.push(st);
      saveState(state);
      say(`started ${s} (${st.how})`);
    } else {
      say(`${s} already running`);
    }
  }

  // 5. Wait for the local host to be up.
  if (!(await waitHostUp(local.name, startedAt, 90_000))) {
    process.stderr.write(
      `homestack aio up: host ${local.name} did not come up within 90 s; see ${AIO.logDir}/agent.log and controller.log\n`,
    );
    return 1;
  }
  say(`host ${local.name} is up`);

  // 6. Flavors, the test image, the demo project, user and network (skipped with --bare).
  if (!bare && demoPw) {
    try {
      await firstRun({
        local: localUrl,
        ca: caPem,
        adminPassword: pw.password,
        demoPassword: demoPw.password,
        externalNetworkId,
        image: testImagePath(root),
      });
      say(`demo user ready: source ${AIO.demoOpenrc}  (or: openstack --os-cloud homestack-demo ...)`);
    } catch (e) {
      process.stderr.write(`homestack aio up: setting up flavors, image and the demo project failed: ${(e as Error).message}\n`);
      return 1;
    }
  }
  say(`ready in ${((Date.now() - t0) / 1000).toFixed(1)} s: source ${AIO.openrc}  (or: openstack --os-cloud homestack ...)`);
  return 0;
}

async function down(): Promise<number> {
  const run = makeRunner();
  const state = readState();
  for (const s of [...state.services].reverse()) {
    await stopService(run, s);
    say(`stopped ${s.name}`);
  }
  await stopSystemDaemons(run, state.daemons, say);
  rmSync(AIO.state, { force: true });
  say('down (configuration and data kept under /etc/homestack and /var/lib/homestack)');
  return 0;
}

/** Stops the controller and agent that `up` started (daemons stay), then `up` again: picks up a new build. */
async function restart(bare: boolean): Promise<number> {
  const run = makeRunner();
  const state = readState();
  for (const s of [...state.services].reverse()) {
    await stopService(run, s);
    say(`stopped ${s.name}`);
  }
  state.services = [];
  saveState(state);
  return up(bare);
}

async function status(json: boolean): Promise<number> {
  const run = makeRunner();
  const state = readState();
  const rows: Array<Record<string, unknown>> = [];
  for (const s of ['controller', 'agent'] as const) {
    const rec = state.services.find((x) => x.name === s);
    rows.push({
      what: s,
      running: await serviceRunning(run, s),
      started_by_aio: rec ? rec.how : 'no',
      pid: livePid(join(AIO.runDir, `${s}.pid`)) ?? '',
    });
  }
  for (const d of SYSTEM_DAEMONS) {
    const rec = state.daemons.find((x) => x.name === d.name);
    rows.push({
      what: d.name,
      running: pidsByComm(d.comm).length > 0,
      started_by_aio: rec ? rec.how : 'no',
      pid: pidsByComm(d.comm)[0] ?? '',
    });
  }
  printTable(rows, ['what', 'running', 'started_by_aio', 'pid'], json);
  if (existsSync(AIO.controllerToml)) {
    const ctx = openContext(['--config', AIO.controllerToml]);
    try {
      process.stdout.write('\n');
      printTable(
        new HostRegistry(ctx.db, ctx.config)
          .list()
          .map((h) => ({ name: h.name, state: h.state, roles: h.roles.join(','), last_heartbeat: h.last_heartbeat_at })),
        ['name', 'state', 'roles', 'last_heartbeat'],
        json,
      );
    } finally {
      ctx.close();
    }
  }
  return 0;
}

export const AIO_COMMANDS: Record<string, CommandSpec> = {
  up: {
    words: 'aio up',
    options: { bare: { type: 'boolean' } },
    help: 'the all-in-one cloud on this machine (as root): configs, daemons, controller, agent; then flavors, the test image, the demo project and network (--bare: not those)',
  },
  down: { words: 'aio down', help: 'stop exactly what `aio up` started (configuration and data stay)' },
  restart: {
    words: 'aio restart',
    options: { bare: { type: 'boolean' } },
    help: 'restart the controller and agent on a new build, same state',
  },
  status: { words: 'aio status', options: { json: { type: 'boolean' } }, help: 'what runs, what aio started, the hosts' },
};
export const DAEMONS_START: CommandSpec = {
  words: 'daemons start',
  help: 'start libvirtd, virtlogd, ovsdb-server, ovs-vswitchd, tgtd if not running',
};

/** `homestack aio up|down|restart|status`. */
export async function aioCommand(sub: string | undefined, argv: readonly string[]): Promise<number> {
  const spec = sub ? AIO_COMMANDS[sub] : undefined;
  if (!spec) {
    process.stderr.write(`usage:\n${usageText(Object.values(AIO_COMMANDS))}`);
    return 2;
  }
  const a = parsed(spec, argv);
  if (typeof a === 'number') return a;
  switch (sub) {
    case 'up':
      return up(a.values.bare === true);
    case 'down':
      return down();
    case 'status':
      return status(a.values.json === true);
    case 'restart':
      return restart(a.values.bare === true);
    default:
      return 2;
  }
}

/** `homestack daemons start`: only the system daemons (the test script uses it). */
export async function daemonsCommand(sub: string | undefined, argv: readonly string[]): Promise<number> {
  if (sub !== 'start') {
    process.stderr.write(`usage:\n${usageText([DAEMONS_START])}`);
    return 2;
  }
  const a = parsed(DAEMONS_START, argv);
  if (typeof a === 'number') return a;
  const d = await startSystemDaemons(makeRunner(), say);
  for (const r of d.report) say(`${r.name}: ${r.state}${r.error ? ` (${r.error})` : ''}`);
  return d.report.some((r) => r.state === 'failed') ? 1 : 0;
}

export { localHostName };
