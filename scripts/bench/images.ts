#!/usr/bin/env node
/**
 * Image data path benchmark: uploads and downloads a file (1 GiB by default) through
 * the Glance API of a running controller and, in the same run and on the same disk,
 * copies it with `cp`. Prints MB/s for each, the ratios and the controller's peak RSS
 * (VmHWM from /proc/<pid>/status).
 *
 *   node dist/scripts/bench/images.js [--size-mib 1024] [--dir /var/tmp] [--pid PID]
 *        [--image-url http://127.0.0.1:8200/image --token TOKEN]
 *
 * Without --image-url/--token it authenticates with the usual OS_* variables and takes
 * the image endpoint from the catalog. Without --pid it finds the process listening on
 * the endpoint's port. The test image is created as t<runid>-bench and deleted at the end.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, open, readdir, readFile, readlink, rm, stat } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { makeRunner } from '../../shared/exec/run.js';

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;

interface Args { sizeMib: number; dir: string; pid?: number; imageUrl?: string; token?: string }

function args(): Args {
  const { values } = parseArgs({
    options: {
      'size-mib': { type: 'string', default: '1024' },
      dir: { type: 'string', default: '/var/tmp' },
      pid: { type: 'string' },
      'image-url': { type: 'string' },
      token: { type: 'string' },
    },
  });
  return {
    sizeMib: Number(values['size-mib']),
    dir: values.dir!,
    pid: values.pid ? Number(values.pid) : undefined,
    imageUrl: values['image-url'],
    token: values.token,
  };
}

function http(method: string, url: string, headers: Record<string, string>, body?: string): Promise<{ status: number; headers: IncomingMessage['headers']; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text: Buffer.concat(parts).toString() }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A token and the public image endpoint from the OS_* variables. */
async function login(): Promise<{ token: string; imageUrl: string }> {
  const e = process.env;
  if (!e.OS_AUTH_URL || !e.OS_USERNAME || !e.OS_PASSWORD) throw new Error('set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD (and OS_PROJECT_NAME) or pass --image-url and --token');
  const body = {
    auth: {
      identity: { methods: ['password'], password: { user: { name: e.OS_USERNAME, password: e.OS_PASSWORD, domain: { name: e.OS_USER_DOMAIN_NAME ?? 'Default' } } } },
      scope: { project: { name: e.OS_PROJECT_NAME ?? 'admin', domain: { name: e.OS_PROJECT_DOMAIN_NAME ?? 'Default' } } },
    },
  };
  const r = await http('POST', `${e.OS_AUTH_URL.replace(/\/+$/, '')}/auth/tokens`, { 'content-type': 'application/json' }, JSON.stringify(body));
  if (r.status !== 201) throw new Error(`authentication failed: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  const token = String(r.headers['x-subject-token']);
  const catalog = (JSON.parse(r.text) as { token: { catalog: Array<{ type: string; endpoints: Array<{ interface: string; url: string }> }> } }).token.catalog;
  const url = catalog.find((s) => s.type === 'image')?.endpoints.find((x) => x.interface === 'public')?.url;
  if (!url) throw new Error('no public image endpoint in the catalog');
  return { token, imageUrl: url.replace(/\/+$/, '') };
}

/** The pid of the process listening on `port` (from /proc/net/tcp and the fd links). */
async function pidListening(port: number): Promise<number | undefined> {
  const inodes = new Set<string>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(f, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c.length > 9 && c[3] === '0A' && parseInt(c[1]!.split(':')[1]!, 16) === port) inodes.add(c[9]!);
    }
  }
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const fds = await readdir(`/proc/${p}/fd`).catch(() => [] as string[]);
    for (const fd of fds) {
      const l = await readlink(`/proc/${p}/fd/${fd}`).catch(() => '');
      const m = /^socket:\[(\d+)\]$/.exec(l);
      if (m && inodes.has(m[1]!)) return Number(p);
    }
  }
  return undefined;
}

async function vm(pid: number): Promise<{ hwm: number; rss: number }> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

async function makeFile(path: string, bytes: number): Promise<void> {
  const fh = await open(path, 'w');
  const buf = Buffer.allocUnsafe(CHUNK);
  for (let off = 0; off < bytes; off += CHUNK) {
    for (let i = 0; i < buf.length; i += 4) buf.writeUInt32LE((Math.random() * 0xffffffff) >>> 0, i);
    await fh.write(buf, 0, Math.min(CHUNK, bytes - off));
  }
  await fh.sync();
  await fh.close();
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

function upload(url: string, token: string, path: string, size: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: 'PUT',
      headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream', 'content-length': String(size) },
    }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => (res.statusCode === 204 ? resolve() : reject(new Error(`upload: HTTP ${res.statusCode} ${Buffer.concat(parts).toString().slice(0, 300)}`))));
    });
    req.on('error', reject);
    pipeline(createReadStream(path, { highWaterMark: CHUNK }), req).catch(reject);
  });
}

function download(url: string, token: string, out: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { 'x-auth-token': token } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`download: HTTP ${res.statusCode}`));
      const ws = createWriteStream(out, { highWaterMark: CHUNK });
      pipeline(res, ws).then(() => resolve(ws.bytesWritten), reject);
    }).on('error', reject).end();
  });
}

async function main(): Promise<void> {
  const a = args();
  const { token, imageUrl } = a.imageUrl && a.token ? { token: a.token, imageUrl: a.imageUrl.replace(/\/+$/, '') } : await login();
  const pid = a.pid ?? (await pidListening(Number(new URL(imageUrl).port || 80)));
  const run = makeRunner();
  const size = a.sizeMib * MiB;
  const work = await mkdtemp(join(a.dir, 'timgbench-'));
  const runId = `t${Date.now().toString(36)}`;
  let imageId: string | null = null;
  const H = { 'x-auth-token': token, 'content-type': 'application/json' };
  try {
    const src = join(work, 'src.img');
    await makeFile(src, size);
    const before = pid ? await vm(pid) : null;

    // Same disk, same file, same run: cp first (warm cache for everyone), then the API.
    const cpS = await timed(async () => { await run('cp', [src, join(work, 'cp.img')], { timeoutMs: 600_000 }); });
    await rm(join(work, 'cp.img'));
    const cpSyncS = await timed(async () => {
      await run('cp', [src, join(work, 'cp.img')], { timeoutMs: 600_000 });
      await run('sync', ['-f', join(work, 'cp.img')], { timeoutMs: 600_000 });
    });
    await rm(join(work, 'cp.img'));

    const c = await http('POST', `${imageUrl}/v2/images`, H, JSON.stringify({ name: `${runId}-bench`, disk_format: 'raw', container_format: 'bare', visibility: 'private' }));
    if (c.status !== 201) throw new Error(`create: HTTP ${c.status} ${c.text.slice(0, 200)}`);
    imageId = (JSON.parse(c.text) as { id: string }).id;
    const upS = await timed(() => upload(`${imageUrl}/v2/images/${imageId}/file`, token, src, size));
    let got = 0;
    const downS = await timed(async () => { got = await download(`${imageUrl}/v2/images/${imageId}/file`, token, join(work, 'down.img')); });
    if (got !== size || (await stat(join(work, 'down.img'))).size !== size) throw new Error(`download returned ${got} bytes, expected ${size}`);
    const after = pid ? await vm(pid) : null;

    const mbs = (s: number) => size / 1e6 / s;
    const rows = {
      size_bytes: size,
      cp_MBps: +mbs(cpS).toFixed(1),
      cp_fsync_MBps: +mbs(cpSyncS).toFixed(1),
      upload_MBps: +mbs(upS).toFixed(1),
      download_MBps: +mbs(downS).toFixed(1),
      upload_vs_cp: +(cpS / upS).toFixed(2),
      download_vs_cp: +(cpS / downS).toFixed(2),
      upload_vs_cp_fsync: +(cpSyncS / upS).toFixed(2),
      controller_pid: pid ?? null,
      controller_rss_before_MiB: before ? +(before.rss / MiB).toFixed(1) : null,
      controller_peak_rss_MiB: after ? +(after.hwm / MiB).toFixed(1) : null,
    };
    for (const [k, v] of Object.entries(rows)) console.log(`${k.padEnd(28)} ${v}`);
    console.log(JSON.stringify(rows));
  } finally {
    if (imageId) await http('DELETE', `${imageUrl}/v2/images/${imageId}`, H).catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
});
