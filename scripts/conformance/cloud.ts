#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { MultiHost } from '../../agents/network/testing/harness.js';
import { NODE_FLAGS } from '../../controller/cli/aio/services.js';
import { makeRunner, type Runner } from '../../shared/exec/run.js';

/**
 * The cloud the conformance run tests (scripts/conformance.sh): a fresh controller and
 * one agent with the compute, network and volume roles, started the way the system tests
 * start them (agents/network/testing/harness.ts, as faults/real/cloud.ts does): the
 * controller in the management namespace t<run>-ctl on 198.51.100.1:8000, the agent in
 * simulated host A with its OWN libvirtd (TCG guests), Open vSwitch and tgtd, file volumes.
 * Nothing of the machine's shared daemons, ports or /var/lib/homestack is touched, so it
 * runs beside the all-in-one and other engineers' tests. Everything that talks to the API
 * (tempest too) runs inside t<run>-ctl.
 *
 *   npx tsx scripts/conformance/cloud.ts up [--image FILE]   # prints the env file's path last
 *   npx tsx scripts/conformance/cloud.ts down <run>
 *   npx tsx scripts/conformance/cloud.ts prepare ENV_FILE [--image FILE]   # any cloud, from OS_* (e.g. the all-in-one)
 *
 * The env file (/tmp/t<run>/ctl/conformance.env) sets CLOUD_RUN, CLOUD_NS, OS_AUTH_URL,
 * OS_PASSWORD..., IMAGE_REF/IMAGE_REF_ALT (the --image uploaded twice, qcow2; empty
 * without --image), FLAVOR_REF/FLAVOR_REF_ALT, PUBLIC_NET, COMPUTE_/VOLUME_MICROVERSIONS
 * ("min max" as the version documents advertise them) and NETWORK_EXTENSIONS (the aliases
 * GET /v2.0/extensions lists, comma-separated).
 */

const REPO = resolve(import.meta.dirname, '..', '..');
const PORT = 8000;
const CTL_IP = '198.51.100.1';
const HOST_IP = '198.51.100.11';
const PUBLIC_URL = `http://${CTL_IP}:${PORT}`;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const toml = (lines: string[]) => `${lines.join('\n')}\n`;
const log = (m: string) => process.stderr.write(`conformance cloud: ${m}\n`);

/** busybox start-stop-daemon: the daemon outlives this script; its pid file is how `down` stops it. */
const daemon = (logFile: string, pidFile: string, argv: string[]) => [
  'start-stop-daemon',
  '-S',
  '-b',
  '-m',
  '-p',
  pidFile,
  '-x',
  '/bin/busybox',
  '--',
  'sh',
  '-c',
  `exec ${argv.join(' ')} >>${logFile} 2>&1`,
];

async function up(image: string | null): Promise<number> {
  for (const f of ['dist/controller/main.js', 'dist/agents/main.js', 'dist/controller/cli/main.js']) {
    if (!existsSync(join(REPO, f))) throw new Error(`${f} is missing: npm run build first`);
  }
  if (image && !existsSync(image)) throw new Error(`no image ${image} (scripts/build-test-image.sh)`);
  const why = MultiHost.unavailable();
  if (why) throw new Error(`cannot simulate a host here: ${why}`);
  const root = makeRunner();
  const mh = new MultiHost(root);
  const t0 = Date.now();
  try {
    await mh.up({ mgmt: true });
    const host = await mh.addHost('A', 1, { uplink: true, libvirt: true });
    await startTgtd(host.run, host.dir);
    const ctlDir = join(mh.dir, 'ctl');
    const data = join(host.dir, 'data');
    mkdirSync(join(ctlDir, 'data'), { recursive: true });
    const ctlToml = join(ctlDir, 'controller.toml');
    const agentToml = join(host.dir, 'agent.toml');
    writeFileSync(
      ctlToml,
      toml([
        `data_dir = "${ctlDir}/data"`,
        `public_url = "${PUBLIC_URL}"`,
        '',
        '[listen]',
        `host = "${CTL_IP}"`,
        `port = ${PORT}`,
        '',
        '[agents]',
        'heartbeat_s = 5',
        'down_after_missed = 3',
        '',
        // Tempest creates a project and a user per test class and logs in often: the
        // cheapest scrypt cost the schema allows saves shared CPU (not what is tested).
        '[identity]',
        'scrypt_log_n = 10',
        '',
        // tiny TCG guests: Tempest's compute classes run several at once
        '[compute]',
        'cpu_allocation_ratio = 16',
      ]),
    );
    writeFileSync(
      agentToml,
      toml([
        `host = "${mh.prefix}-a"`,
        'roles = ["compute", "network", "volume"]',
        `data_dir = "${data}"`,
        `controller_url = "${PUBLIC_URL}"`,
        `credential_file = "${join(host.dir, 'agent.key')}"`,
        'heartbeat_s = 5',
        '',
        '[listen]',
        `host = "${HOST_IP}"`,
        'port = 8001',
        '',
        '[compute]',
        'virt_type = "qemu"',
        `instances_dir = "${join(data, 'instances')}"`,
        '',
        '[network]',
        `tunnel_ip = "${host.tunnelIp}"`,
        'resync_s = 30',
        '',
        '[volume]',
        'backend = "file"',
        'target = "tgtadm"',
        `file_dir = "${join(data, 'volumes')}"`,
        `target_ip = "${HOST_IP}"`,
      ]),
    );
    const cli = (args: string[]) =>
      root('busybox', ['env', process.execPath, join(REPO, 'dist/controller/cli/main.js'), ...args, '--config', ctlToml], {
        timeoutMs: 120_000,
      });
    await cli(['host', 'enrol-local', '--agent-config', agentToml]);
    const password = `conf-${mh.runId}-${Math.random().toString(36).slice(2, 12)}`;
    writeFileSync(join(ctlDir, 'admin.pw'), `${password}\n`, { mode: 0o600 });
    await cli(['bootstrap', '--admin-password-file', join(ctlDir, 'admin.pw'), '--public-url', PUBLIC_URL]);

    const node = (script: string, config: string, which: 'controller' | 'agent') => [
      process.execPath,
      ...NODE_FLAGS[which],
      join(REPO, script),
      '--config',
      config,
    ];
    await root('ip', [
      'netns',
      'exec',
      mh.mgmtNs,
      'busybox',
      ...daemon(
        join(ctlDir, 'controller.log'),
        join(ctlDir, 'controller.pid'),
        node('dist/controller/main.js', ctlToml, 'controller'),
      ),
    ]);
    await host.run(
      'busybox',
      daemon(join(host.dir, 'agent.log'), join(host.dir, 'agent.pid'), node('dist/agents/main.js', agentToml, 'agent')),
    );
    await waitHostUp(join(ctlDir, 'data', 'homestack.db'), `${mh.prefix}-a`, 90_000);
    log(`controller and agent up in ${Math.round((Date.now() - t0) / 1000)} s (run ${mh.runId})`);

    // The API side (public network, flavors, images) from inside the management namespace.
    const env = join(ctlDir, 'conformance.env');
    const r = spawnSync(
      'ip',
      [
        'netns',
        'exec',
        mh.mgmtNs,
        process.execPath,
        ...process.execArgv,
        join(import.meta.dirname, 'cloud.ts'),
        'prepare',
        env,
        ...(image ? ['--image', image] : []),
      ],
      {
        stdio: ['ignore', 'inherit', 'inherit'],
        timeout: 600_000,
        env: {
          ...process.env,
          OS_AUTH_URL: `${PUBLIC_URL}/identity/v3`,
          OS_USERNAME: 'admin',
          OS_PASSWORD: password,
          OS_PROJECT_NAME: 'admin',
          OS_USER_DOMAIN_NAME: 'Default',
          OS_PROJECT_DOMAIN_NAME: 'Default',
          OS_REGION_NAME: 'RegionOne',
        },
      },
    );
    if (r.status !== 0) throw new Error(`prepare failed (exit ${r.status})`);
    writeFileSync(
      env,
      toml([
        readFileSync(env, 'utf8').trimEnd(),
        `CLOUD_RUN=${mh.runId}`,
        `CLOUD_NS=${mh.mgmtNs}`,
        `CLOUD_DIR=${mh.dir}`,
        `CLOUD_LOGS="${join(ctlDir, 'controller.log')} ${join(host.dir, 'agent.log')}"`,
      ]),
    );
    log(`ready in ${Math.round((Date.now() - t0) / 1000)} s; down: npx tsx scripts/conformance/cloud.ts down ${mh.runId}`);
    process.stdout.write(`${env}\n`);
    return 0;
  } catch (e) {
    log(`up failed: ${(e as Error).message}; tearing down run ${mh.runId}`);
    await down(mh.runId);
    return 1;
  }
}

/** tgtd inside the host (as faults/real/cloud.ts): its own /run/tgtd control socket. */
async function startTgtd(run: Runner, dir: string): Promise<void> {
  const d = join(dir, 'tgt');
  mkdirSync(d, { recursive: true });
  mkdirSync('/run/tgtd', { recursive: true });
  await run('mount', ['--bind', d, '/run/tgtd'], { okCodes: [0, 32] });
  await run('tgtd', ['-p', join(dir, 'tgtd.pid')]);
  for (let i = 0; i < 100; i++) {
    const r = await run('tgtadm', ['--lld', 'iscsi', '--mode', 'sys', '--op', 'show'], { okCodes: [0, 1, 22, 107] });
    if (r.code === 0) return;
    await sleep(100);
  }
  throw new Error('tgtd did not answer');
}

async function waitHostUp(dbFile: string, name: string, ms: number): Promise<void> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (existsSync(dbFile)) {
      try {
        const db = new Database(dbFile, { readonly: true, fileMustExist: true });
        try {
          const row = db.prepare('SELECT state FROM hosts WHERE name = ?').get(name) as { state: string } | undefined;
          if (row?.state === 'up') return;
        } finally {
          db.close();
        }
      } catch {
        /* the controller is still migrating */
      }
    }
    await sleep(500);
  }
  throw new Error(`host ${name} not up after ${ms} ms (see the controller and agent logs)`);
}

async function down(runId: string): Promise<number> {
  const mh = MultiHost.attach(runId);
  // the daemons first, so no agent converges while its OVS and libvirtd go away
  for (const f of [join(mh.dir, 'ctl', 'controller.pid'), ...mh.hosts.map((h) => join(h.dir, 'agent.pid'))]) {
    try {
      process.kill(Number(readFileSync(f, 'utf8').trim()), 'SIGTERM');
    } catch {
      /* not running */
    }
  }
  await sleep(1500);
  // tgtd ignores SIGTERM while it serves targets (faults/real/cloud.ts kills it the same way)
  for (const h of mh.hosts) {
    try {
      process.kill(Number(readFileSync(join(h.dir, 'tgtd.pid'), 'utf8').trim()), 'SIGKILL');
    } catch {
      /* not running */
    }
  }
  const problems = await mh.teardown();
  for (const p of problems) log(p);
  return 0;
}

// ---------------------------------------------------------------- what the tests need

interface Reply {
  status: number;
  body: any;
  headers: Headers;
}

/**
 * Finds or creates, through the API of the cloud in OS_AUTH_URL/OS_USERNAME/OS_PASSWORD/
 * OS_PROJECT_NAME (run inside t<run>-ctl for a cloud of this script, or with the
 * all-in-one's openrc): an external network, two flavors the test image boots with and,
 * with `image`, two public copies of it; writes the env file (credentials and refs).
 */
async function prepare(envFile: string, image: string | null): Promise<number> {
  const e = process.env;
  const authUrl = (e.OS_AUTH_URL ?? '').replace(/\/$/, '');
  if (!authUrl || !e.OS_PASSWORD) throw new Error('OS_AUTH_URL and OS_PASSWORD are needed');
  let token = '';
  const call = async (method: string, url: string, body?: unknown): Promise<Reply> => {
    const raw = body instanceof Buffer;
    const r = await fetch(url, {
      method,
      headers: {
        'x-auth-token': token,
        ...(body !== undefined ? { 'content-type': raw ? 'application/octet-stream' : 'application/json' } : {}),
      },
      body: raw ? body : body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await r.text();
    if (r.status >= 400) throw new Error(`${method} ${url}: ${r.status} ${text.slice(0, 300)}`);
    return { status: r.status, body: text ? JSON.parse(text) : null, headers: r.headers };
  };
  const domain = { name: e.OS_USER_DOMAIN_NAME ?? 'Default' };
  const login = await call('POST', `${authUrl}/auth/tokens`, {
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: e.OS_USERNAME ?? 'admin', domain, password: e.OS_PASSWORD } },
      },
      scope: { project: { name: e.OS_PROJECT_NAME ?? 'admin', domain: { name: e.OS_PROJECT_DOMAIN_NAME ?? 'Default' } } },
    },
  });
  token = login.headers.get('x-subject-token') ?? '';
  const catalog = login.body.token.catalog as Array<{ type: string; endpoints: Array<{ interface: string; url: string }> }>;
  const ep = (type: string) => {
    const u = catalog.find((s) => s.type === type)?.endpoints.find((x) => x.interface === 'public')?.url;
    if (!u) throw new Error(`no public ${type} endpoint in the catalog`);
    return u.replace(/\/$/, '');
  };
  const network = ep('network');
  const compute = ep('compute');
  const imageApi = ep('image');
  // The microversion ranges the cloud advertises (its version documents), for Tempest's
  // [compute]/[volume] min_ and max_microversion: run.sh leaves them unset, and then every
  // test that needs a microversion skips, whatever the cloud serves.
  const range = async (url: string) => {
    const doc = (await call('GET', `${url}/`)).body;
    const v = doc.version ?? (doc.versions as Array<{ status: string }>).find((x) => x.status === 'CURRENT');
    return `${v.min_version || '2.1'} ${v.version || v.min_version}`;
  };
  const computeRange = await range(compute);
  // The network extensions it advertises, for [network-feature-enabled] api_extensions: with
  // run.sh's "all" Tempest assumes every extension exists (dvr, extraroute, metering…).
  const networkExtensions = ((await call('GET', `${network}/v2.0/extensions`)).body.extensions as Array<{ alias: string }>)
    .map((x) => x.alias)
    .join(',');
  const volumeRange = await range(ep('volumev3').replace(/\/[0-9a-f]{32}$/, ''));

  // An external network: the cloud's own, else `public` as two-host-cloud.ts makes it
  // (flat on `public`, gateway 172.24.4.1 in t<run>-ctl).
  let publicNet = (await call('GET', `${network}/v2.0/networks?router:external=true`)).body.networks[0]?.id as string;
  if (!publicNet) {
    publicNet = (
      await call('POST', `${network}/v2.0/networks`, {
        network: {
          name: 'public',
          'router:external': true,
          'provider:network_type': 'flat',
          'provider:physical_network': 'public',
        },
      })
    ).body.network.id;
    await call('POST', `${network}/v2.0/subnets`, {
      subnet: {
        network_id: publicNet,
        name: 'public-subnet',
        ip_version: 4,
        cidr: '172.24.4.0/24',
        gateway_ip: '172.24.4.1',
        enable_dhcp: false,
        allocation_pools: [{ start: '172.24.4.100', end: '172.24.4.200' }],
      },
    });
  }
  // Flavors the test image boots with (it wants ~192 MiB; the harness's own have 128).
  const have = (await call('GET', `${compute}/flavors/detail?is_public=None`)).body.flavors as Array<{
    id: string;
    name: string;
  }>;
  const flavors: string[] = [];
  for (const [name, ram, disk] of [
    ['conformance-1', 192, 1],
    ['conformance-2', 256, 2],
  ] as const) {
    flavors.push(
      have.find((f) => f.name === name)?.id ??
        (await call('POST', `${compute}/flavors`, { flavor: { name, ram, vcpus: 1, disk } })).body.flavor.id,
    );
  }
  const images: string[] = [];
  if (image) {
    const bytes = readFileSync(image);
    for (const name of ['conformance-guest-1', 'conformance-guest-2']) {
      const found = (await call('GET', `${imageApi}/v2/images?name=${name}&status=active`)).body.images[0]?.id as string;
      if (found) {
        images.push(found);
        continue;
      }
      const img = await call('POST', `${imageApi}/v2/images`, {
        name,
        disk_format: 'qcow2',
        container_format: 'bare',
        visibility: 'public',
      });
      await call('PUT', `${imageApi}/v2/images/${img.body.id}/file`, bytes);
      images.push(img.body.id);
    }
  }
  const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  writeFileSync(
    envFile,
    toml([
      `export OS_AUTH_URL=${q(authUrl)}`,
      'export OS_IDENTITY_API_VERSION=3',
      `export OS_USERNAME=${q(e.OS_USERNAME ?? 'admin')}`,
      `export OS_PASSWORD=${q(e.OS_PASSWORD)}`,
      `export OS_PROJECT_NAME=${q(e.OS_PROJECT_NAME ?? 'admin')}`,
      `export OS_USER_DOMAIN_NAME=${q(domain.name)}`,
      `export OS_PROJECT_DOMAIN_NAME=${q(e.OS_PROJECT_DOMAIN_NAME ?? 'Default')}`,
      `export OS_REGION_NAME=${q(e.OS_REGION_NAME ?? 'RegionOne')}`,
      `IMAGE_REF=${images[0] ?? ''}`,
      `IMAGE_REF_ALT=${images[1] ?? ''}`,
      `FLAVOR_REF=${flavors[0]}`,
      `FLAVOR_REF_ALT=${flavors[1]}`,
      `PUBLIC_NET=${publicNet}`,
      `COMPUTE_MICROVERSIONS='${computeRange}'`,
      `VOLUME_MICROVERSIONS='${volumeRange}'`,
      `NETWORK_EXTENSIONS='${networkExtensions}'`,
    ]),
    { mode: 0o600 },
  );
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const opt = (name: string) => (argv.includes(name) ? resolve(argv[argv.indexOf(name) + 1] ?? '') : null);
  if (argv[0] === 'up') return up(opt('--image'));
  if (argv[0] === 'down' && argv[1]) return down(argv[1]);
  if (argv[0] === 'prepare' && argv[1]) return prepare(resolve(argv[1]), opt('--image'));
  process.stderr.write('usage: cloud.ts up [--image FILE] | down <run> | prepare ENV_FILE [--image FILE]\n');
  return 2;
}

main(process.argv.slice(2)).then(
  (c) => process.exit(c),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
