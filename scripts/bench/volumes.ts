#!/usr/bin/env node
/**
 * Volume data path benchmark (as root, tgtd running): in one run and on one disk,
 *  1. `dd` sequential write and read (O_DIRECT, 1 MiB blocks) on the back-end file of a
 *     volume made by the file back end (agents/volume/file.ts);
 *  2. `qemu-img bench` sequential write and read on that file (QEMU's file driver,
 *     cache=none, queue depth 16);
 *  3. the same `qemu-img bench` through the tgt export made by agents/volume/tgt.ts,
 *     logged in with the attachment's CHAP credentials: QEMU's own iSCSI initiator,
 *     which is the block backend a guest's hot-plugged virtio disk uses here;
 *  4. the time to export + grant a connection (what attach waits for on the volume
 *     host) and the first iSCSI login + inquiry (`qemu-img info`).
 *
 * I/O inside a guest and the time until an attached disk appears in the guest are
 * measured by scripts/bench/volumes-guest.ts (it needs a running cloud).
 *
 *   node --import tsx scripts/bench/volumes.ts [--size-mib 512] [--runs 3] [--dir /var/tmp]
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { FileBackend } from '../../agents/volume/file.js';
import { TgtTarget } from '../../agents/volume/tgt.js';
import { makeRunner } from '../../shared/exec/run.js';

const MiB = 1024 * 1024;
const run = makeRunner();

const { values } = parseArgs({
  options: {
    'size-mib': { type: 'string', default: '512' },
    runs: { type: 'string', default: '3' },
    dir: { type: 'string', default: '/var/tmp' },
  },
});
const sizeMib = Number(values['size-mib']);
const runs = Number(values.runs);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mbps = (bytes: number, ms: number) => bytes / MiB / (ms / 1000);

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (tgtadm)');
  const runId = `t${randomBytes(3).toString('hex')}`;
  const dir = await mkdtemp(join(values.dir!, `${runId}-volbench-`));
  const backend = new FileBackend({ dir: join(dir, 'volumes'), run });
  await backend.init();
  const target = new TgtTarget({ run, iqnPrefix: `iqn.2026-11.org.homestack.${runId}`, portalIp: '127.0.0.1' });
  const id = randomUUID();
  const sizeGb = Math.max(1, Math.ceil(sizeMib / 1024));
  const { devicePath } = await backend.create({ id, sizeGb });
  const bytes = sizeMib * MiB;
  const r: Record<string, number[]> = {};
  const add = (k: string, v: number) => {
    (r[k] ??= []).push(v);
  };
  try {
    const exportMs = await timed(() => target.ensureExport(id, devicePath));
    const initiator = `iqn.2005-03.org.homestack:${runId}`;
    const auth = { username: `hs-${runId}`, password: randomBytes(16).toString('hex') };
    let conn!: Awaited<ReturnType<typeof target.initializeConnection>>;
    const connectMs = await timed(async () => {
      conn = await target.initializeConnection(id, { initiator, address: '127.0.0.1' }, auth);
    });
    const pw = join(dir, 'chap');
    await writeFile(pw, auth.password, { mode: 0o600 });
    const iscsi = `driver=raw,file.driver=iscsi,file.transport=tcp,file.portal=127.0.0.1:3260,file.target=${conn.data.target_iqn},file.lun=1,file.initiator-name=${initiator},file.user=${auth.username},file.password-secret=c0`;
    const secret = ['--object', `secret,id=c0,file=${pw}`];
    const loginMs = await timed(() => run('qemu-img', ['info', ...secret, '--image-opts', iscsi], { timeoutMs: 60_000 }));
    const count = String(sizeMib);
    // `qemu-img bench` takes no --object: the CHAP password goes inline (redacted in logs; benchmark only).
    const iscsiInline = `${iscsi.replace(',file.password-secret=c0', '')},file.password=${auth.password}`;
    const bench = (write: boolean, target: string[]) =>
      run('qemu-img', ['bench', ...(write ? ['-w'] : []), '-s', '1M', '-c', count, '-d', '16', '-t', 'none', ...target], {
        timeoutMs: 600_000,
        redact: [auth.password],
      });
    for (let i = 0; i < runs; i++) {
      add(
        'dd write (host, file)',
        mbps(
          bytes,
          await timed(() =>
            run(
              'dd',
              [
                'if=/dev/zero',
                `of=${devicePath}`,
                'bs=1M',
                `count=${sizeMib}`,
                'oflag=direct',
                'conv=notrunc,fsync',
                'status=none',
              ],
              { timeoutMs: 600_000 },
            ),
          ),
        ),
      );
      add(
        'dd read (host, file)',
        mbps(
          bytes,
          await timed(() =>
            run('dd', [`if=${devicePath}`, 'of=/dev/null', 'bs=1M', `count=${sizeMib}`, 'iflag=direct', 'status=none'], {
              timeoutMs: 600_000,
            }),
          ),
        ),
      );
      add('qemu write (file driver)', mbps(bytes, await timed(() => bench(true, ['-f', 'raw', devicePath]))));
      add('qemu read (file driver)', mbps(bytes, await timed(() => bench(false, ['-f', 'raw', devicePath]))));
      add('qemu write (iSCSI via tgt, CHAP)', mbps(bytes, await timed(() => bench(true, ['--image-opts', iscsiInline]))));
      add('qemu read (iSCSI via tgt, CHAP)', mbps(bytes, await timed(() => bench(false, ['--image-opts', iscsiInline]))));
    }
    const out = Object.entries(r).map(([k, xs]) => ({
      what: k,
      median_MBps: Math.round(median(xs)),
      best_MBps: Math.round(Math.max(...xs)),
    }));
    console.log(
      `volume data path, ${sizeMib} MiB sequential, 1 MiB requests, ${runs} runs (qemu-img bench: queue depth 16, cache=none)`,
    );
    console.table(out);
    const ratio = (a: string, b: string) => (median(r[a]!) / median(r[b]!)).toFixed(2);
    console.log(
      `iSCSI/host dd: write ${ratio('qemu write (iSCSI via tgt, CHAP)', 'dd write (host, file)')}, read ${ratio('qemu read (iSCSI via tgt, CHAP)', 'dd read (host, file)')}`,
    );
    console.log(
      `export (tgt target + LUN) ${exportMs.toFixed(0)} ms; connection (CHAP account + ACL) ${connectMs.toFixed(0)} ms; first iSCSI login + inquiry (qemu-img info) ${loginMs.toFixed(0)} ms`,
    );
  } finally {
    await target.removeExport(id).catch(() => {});
    await backend.delete(id).catch(() => {});
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
