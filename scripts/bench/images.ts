#!/usr/bin/env node
/**
 * Image data path benchmark: uploads and downloads a file (1 GiB by default) through
 * the Glance API of a running controller and, in the same run and on the same disk,
 * copies it with `cp`. Prints MB/s for each, the ratios and the controller's peak RSS
 * (VmHWM from /proc/<pid>/status).
 *
 *   npx tsx scripts/bench/images.ts [--size-mib 1024] [--runs 3] [--dir /var/tmp] [--pid PID]
 *        [--image-url http://127.0.0.1:8200/image --token TOKEN]
 *
 * Without --image-url/--token it authenticates with the usual OS_* variables and takes
 * the image endpoint from the catalog. Without --pid it finds the process listening on
 * the endpoint's port. Each run copies with cp (and cp + sync), uploads a new image
 * t<runid>-bench-N and downloads it; medians and bests are reported (the host may be
 * shared). Images are deleted as the run goes.
 *
 * The client is kept out of the way: it uploads from two reused 4 MiB buffers (a read
 * of the next while the socket takes the previous), downloads into a file on the same
 * disk through two 8 MiB buffers written asynchronously (download_MBps), and once more
 * reading and dropping the bytes (download_discard_MBps: the API's own speed). The
 * controller's peak RSS is measured per phase: VmHWM is reset (echo 5 >
 * /proc/PID/clear_refs, root) before each upload and each download and read after it;
 * the process's lifetime peak before the bench is printed too.
 */
import { mkdtemp, open, readdir, readFile, readlink, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { makeRunner } from '../../shared/exec/run.js';

const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;

interface Args {
  sizeMib: number;
  runs: number;
  dir: string;
  pid?: number;
  imageUrl?: string;
  token?: string;
}

function args(): Args {
  const { values } = parseArgs({
    options: {
      'size-mib': { type: 'string', default: '1024' },
      runs: { type: 'string', default: '3' },
      dir: { type: 'string', default: '/var/tmp' },
      pid: { type: 'string' },
      'image-url': { type: 'string' },
      token: { type: 'string' },
    },
  });
  return {
    sizeMib: Number(values['size-mib']),
    runs: Math.max(1, Number(values.runs)),
    dir: values.dir!,
    pid: values.pid ? Number(values.pid) : undefined,
    imageUrl: values['image-url'],
    token: values.token,
  };
}

function http(
  method: string,
  url: string,
  headers: Record<string, string>,
  body?: string,
): Promise<{ status: number; headers: IncomingMessage['headers']; text: string }> {
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
  if (!e.OS_AUTH_URL || !e.OS_USERNAME || !e.OS_PASSWORD)
    throw new Error('set OS_AUTH_URL, OS_USERNAME, OS_PASSWORD (and OS_PROJECT_NAME) or pass --image-url and --token');
  const body = {
    auth: {
      identity: {
        methods: ['password'],
        password: {
          user: { name: e.OS_USERNAME, password: e.OS_PASSWORD, domain: { name: e.OS_USER_DOMAIN_NAME ?? 'Default' } },
        },
      },
      scope: { project: { name: e.OS_PROJECT_NAME ?? 'admin', domain: { name: e.OS_PROJECT_DOMAIN_NAME ?? 'Default' } } },
    },
  };
  const r = await http(
    'POST',
    `${e.OS_AUTH_URL.replace(/\/+$/, '')}/auth/tokens`,
    { 'content-type': 'application/json' },
    JSON.stringify(body),
  );
  if (r.status !== 201) throw new Error(`authentication failed: HTTP ${r.status} ${r.text.slice(0, 200)}`);
  const token = String(r.headers['x-subject-token']);
  const catalog = (
    JSON.parse(r.text) as { token: { catalog: Array<{ type: string; endpoints: Array<{ interface: string; url: string }> }> } }
  ).token.catalog;
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

/** Resets the process's VmHWM to its current RSS (Linux clear_refs 5; needs root or the same user). */
async function resetPeak(pid: number | undefined): Promise<boolean> {
  if (!pid) return false;
  try {
    await writeFile(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

async function vm(pid: number): Promise<{ hwm: number; rss: number }> {
  const s = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm').exec(s)?.[1] ?? 0) * 1024;
  return { hwm: kb('VmHWM'), rss: kb('VmRSS') };
}

/** CPU seconds (user + system) the process has used: a figure other load on the host does not skew. */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  if (!pid) return 0;
  const f = (await readFile(`/proc/${pid}/stat`, 'utf8')).split(') ')[1]!.split(' ');
  return (Number(f[11]) + Number(f[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
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

/** Hex digests of a file (for the checks, never inside a timing). */
async function fileSums(path: string, algos: string[]): Promise<Record<string, string>> {
  const hs = algos.map((a) => createHash(a));
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(CHUNK);
    for (let pos = 0; ; ) {
      const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
      if (!bytesRead) break;
      for (const h of hs) h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
  } finally {
    await fh.close();
  }
  return Object.fromEntries(algos.map((a, i) => [a, hs[i]!.digest('hex')]));
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

/** Resolves once the socket has taken `chunk`, so its buffer can be reused. */
const sent = (req: ClientRequest, chunk: Buffer) =>
  new Promise<void>((resolve, reject) => req.write(chunk, (e) => (e ? reject(e) : resolve())));

/** PUTs the file from two reused buffers: the next is read while the socket takes the other. */
async function upload(url: string, token: string, path: string, size: number): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await new Promise<void>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'PUT',
          headers: { 'x-auth-token': token, 'content-type': 'application/octet-stream', 'content-length': String(size) },
        },
        (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () =>
            res.statusCode === 204
              ? resolve()
              : reject(new Error(`upload: HTTP ${res.statusCode} ${Buffer.concat(parts).toString().slice(0, 300)}`)),
          );
        },
      );
      req.on('error', reject);
      (async () => {
        const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
        const busy: Array<Promise<void> | null> = [null, null];
        for (let pos = 0, i = 0; pos < size; i ^= 1) {
          await busy[i];
          const { bytesRead } = await fh.read(bufs[i]!, 0, Math.min(CHUNK, size - pos), pos);
          if (!bytesRead) throw new Error(`${path} ended at ${pos} bytes`);
          pos += bytesRead;
          busy[i] = sent(req, bufs[i]!.subarray(0, bytesRead));
        }
        await Promise.all(busy);
        req.end();
      })().catch((e: Error) => {
        req.destroy(e);
        reject(e);
      });
    });
  } finally {
    await fh.close();
  }
}

/** Reads the image and drops it: the API's own download speed, without a client-side disk write. */
function downloadDiscard(url: string, token: string): Promise<number> {
  return new Promise((resolve, reject) => {
    request(url, { headers: { 'x-auth-token': token } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`download: HTTP ${res.statusCode}`));
      let n = 0;
      res.on('data', (c: Buffer) => {
        n += c.length;
      });
      res.on('end', () => resolve(n));
      res.on('error', reject);
    })
      .on('error', reject)
      .end();
  });
}

/**
 * Downloads into a file through two 8 MiB buffers: socket data fills one while the other
 * is written asynchronously; the response is paused only when both are full. (Writing
 * synchronously stalled the socket during each write; a stream.pipeline into an
 * fs.WriteStream measured 2-4x slower here.)
 */
function download(url: string, token: string, out: string): Promise<number> {
  const B = 2 * CHUNK;
  return new Promise((resolve, reject) => {
    request(url, { headers: { 'x-auth-token': token } }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`download: HTTP ${res.statusCode}`));
      void (async () => {
        const fh: FileHandle = await open(out, 'w');
        const bufs = [Buffer.allocUnsafe(B), Buffer.allocUnsafe(B)];
        const busy: Array<Promise<void> | null> = [null, null];
        let i = 0;
        let fill = 0;
        let pos = 0;
        let total = 0;
        const flush = () => {
          const k = i;
          busy[k] = fh.write(bufs[k]!, 0, fill, pos).then(() => void (busy[k] = null));
          pos += fill;
          fill = 0;
          i ^= 1;
        };
        try {
          await new Promise<void>((done, fail) => {
            const onData = (c: Buffer) => {
              for (let off = 0; off < c.length; ) {
                const n = c.copy(bufs[i]!, fill, off);
                fill += n;
                off += n;
                if (fill === B) {
                  flush();
                  if (busy[i]) {
                    // The other buffer is still being written: hold the socket until it is free.
                    res.pause();
                    const rest = c.subarray(off);
                    busy[i]!.then(() => {
                      onData(rest);
                      res.resume();
                    }, fail);
                    return;
                  }
                }
              }
            };
            res.on('data', (c: Buffer) => {
              total += c.length;
              onData(c);
            });
            res.on('end', done);
            res.on('error', fail);
          });
          if (fill) flush();
          await Promise.all(busy);
          resolve(total);
        } catch (e) {
          reject(e as Error);
        } finally {
          await fh.close();
        }
      })();
    })
      .on('error', reject)
      .end();
  });
}

async function main(): Promise<void> {
  const a = args();
  const { token, imageUrl } =
    a.imageUrl && a.token ? { token: a.token, imageUrl: a.imageUrl.replace(/\/+$/, '') } : await login();
  const pid = a.pid ?? (await pidListening(Number(new URL(imageUrl).port || 80)));
  const run = makeRunner();
  const size = a.sizeMib * MiB;
  const work = await mkdtemp(join(a.dir, 'timgbench-'));
  const runId = `t${Date.now().toString(36)}`;
  const H = { 'x-auth-token': token, 'content-type': 'application/json' };
  const ids: string[] = [];
  try {
    const src = join(work, 'src.img');
    await makeFile(src, size);
    const srcSums = await fileSums(src, ['md5', 'sha512']);
    const before = pid ? await vm(pid) : null;
    let canReset = false;
    const upPeak: number[] = [];
    const downPeak: number[] = [];
    const peakAfter = async (into: number[]) => void (pid && into.push((await vm(pid)).hwm));
    const cp: number[] = [];
    const cpSync: number[] = [];
    const up: number[] = [];
    const down: number[] = [];
    const upCpu: number[] = [];
    const downCpu: number[] = [];
    const downNull: number[] = [];
    // Same disk, same file, same run, interleaved so that load from elsewhere hits all alike.
    for (let r = 0; r < a.runs; r++) {
      const dst = join(work, 'cp.img');
      cp.push(
        await timed(async () => {
          await run('cp', [src, dst], { timeoutMs: 600_000 });
        }),
      );
      await rm(dst);
      cpSync.push(
        await timed(async () => {
          await run('cp', [src, dst], { timeoutMs: 600_000 });
          await run('sync', ['-f', dst], { timeoutMs: 600_000 });
        }),
      );
      await rm(dst);

      const c = await http(
        'POST',
        `${imageUrl}/v2/images`,
        H,
        JSON.stringify({ name: `${runId}-bench-${r}`, disk_format: 'raw', container_format: 'bare', visibility: 'private' }),
      );
      if (c.status !== 201) throw new Error(`create: HTTP ${c.status} ${c.text.slice(0, 200)}`);
      const id = (JSON.parse(c.text) as { id: string }).id;
      ids.push(id);
      canReset = await resetPeak(pid);
      let c0 = await cpuSeconds(pid);
      up.push(await timed(() => upload(`${imageUrl}/v2/images/${id}/file`, token, src, size)));
      upCpu.push((await cpuSeconds(pid)) - c0);
      await peakAfter(upPeak);
      // Not timed: the image record carries the hashes of what was sent.
      const rec = JSON.parse((await http('GET', `${imageUrl}/v2/images/${id}`, H)).text) as {
        checksum: string;
        os_hash_value: string;
        size: number;
      };
      if (rec.checksum !== srcSums.md5 || rec.os_hash_value !== srcSums.sha512 || rec.size !== size) {
        throw new Error(
          `image ${id}: checksum ${rec.checksum} / os_hash_value ${rec.os_hash_value.slice(0, 16)}… / size ${rec.size} do not match the file`,
        );
      }
      await resetPeak(pid);
      c0 = await cpuSeconds(pid);
      let got = 0;
      const out = join(work, 'down.img');
      down.push(
        await timed(async () => {
          got = await download(`${imageUrl}/v2/images/${id}/file`, token, out);
        }),
      );
      downCpu.push((await cpuSeconds(pid)) - c0);
      if (got !== size || (await stat(out)).size !== size) throw new Error(`download returned ${got} bytes, expected ${size}`);
      if ((await fileSums(out, ['md5'])).md5 !== srcSums.md5)
        throw new Error(`image ${id}: the downloaded file's MD5 differs from the uploaded one`);
      await rm(out);
      let n = 0;
      downNull.push(
        await timed(async () => {
          n = await downloadDiscard(`${imageUrl}/v2/images/${id}/file`, token);
        }),
      );
      if (n !== size) throw new Error(`download returned ${n} bytes, expected ${size}`);
      await peakAfter(downPeak);
      await http('DELETE', `${imageUrl}/v2/images/${id}`, H);
      ids.pop();
    }
    const after = pid ? await vm(pid) : null;

    const mbs = (s: number) => +(size / 1e6 / s).toFixed(1);
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
    const best = (xs: number[]) => Math.min(...xs);
    const rows = {
      size_bytes: size,
      runs: a.runs,
      load_average: (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' '),
      cp_MBps: mbs(median(cp)),
      cp_fsync_MBps: mbs(median(cpSync)),
      upload_MBps: mbs(median(up)),
      download_MBps: mbs(median(down)),
      download_discard_MBps: mbs(median(downNull)),
      // Ratios are API MB/s over cp MB/s (medians): against cp from the page cache, and
      // against cp followed by sync -f (an upload is fsynced before it is acknowledged).
      upload_vs_cp: +(median(cp) / median(up)).toFixed(2),
      upload_vs_cp_fsync: +(median(cpSync) / median(up)).toFixed(2),
      download_vs_cp: +(median(cp) / median(down)).toFixed(2),
      download_vs_cp_fsync: +(median(cpSync) / median(down)).toFixed(2),
      download_discard_vs_cp: +(median(cp) / median(downNull)).toFixed(2),
      download_discard_vs_cp_fsync: +(median(cpSync) / median(downNull)).toFixed(2),
      best_cp_MBps: mbs(best(cp)),
      best_upload_MBps: mbs(best(up)),
      best_download_MBps: mbs(best(down)),
      controller_cpu_s_per_GiB_upload: pid ? +((median(upCpu) * 2 ** 30) / size).toFixed(2) : null,
      controller_cpu_s_per_GiB_download: pid ? +((median(downCpu) * 2 ** 30) / size).toFixed(2) : null,
      all_runs_MBps: {
        cp: cp.map(mbs),
        cp_fsync: cpSync.map(mbs),
        upload: up.map(mbs),
        download: down.map(mbs),
        download_discard: downNull.map(mbs),
      },
      controller_pid: pid ?? null,
      controller_rss_before_MiB: before ? +(before.rss / MiB).toFixed(1) : null,
      // Lifetime peak before this bench (whatever the process did earlier).
      controller_hwm_before_MiB: before ? +(before.hwm / MiB).toFixed(1) : null,
      // Peak during the data path: VmHWM reset before each upload and each download.
      controller_peak_rss_upload_MiB: canReset && upPeak.length ? +(Math.max(...upPeak) / MiB).toFixed(1) : null,
      controller_peak_rss_download_MiB: canReset && downPeak.length ? +(Math.max(...downPeak) / MiB).toFixed(1) : null,
      controller_peak_rss_MiB:
        canReset && upPeak.length
          ? +(Math.max(...upPeak, ...downPeak) / MiB).toFixed(1)
          : after
            ? +(after.hwm / MiB).toFixed(1)
            : null,
      client:
        'upload from 2 reused 4 MiB buffers; download_MBps: into a file on --dir through 2 x 8 MiB async writes; download_discard_MBps: bytes dropped; hashes and MD5 of the downloaded file checked outside the timings',
    };
    for (const [k, v] of Object.entries(rows))
      console.log(`${k.padEnd(28)} ${typeof v === 'object' && v ? JSON.stringify(v) : v}`);
    console.log(JSON.stringify(rows));
  } finally {
    for (const id of ids) await http('DELETE', `${imageUrl}/v2/images/${id}`, H).catch(() => {});
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(`bench: ${(e as Error).message}`);
  process.exit(1);
});
