#!/usr/bin/env node
/**
 * Volume throughput INSIDE A GUEST, against the same `dd` on the volume's back-end file
 * on the host, in one run; and the time from the attach request to the disk appearing
 * in the guest. Runs against a cloud with compute and volume roles on this host (the
 * all-in-one), through the public APIs, as the openrc's user:
 *
 *   source /etc/homestack/admin-openrc.sh
 *   npx tsx scripts/bench/volumes-guest.ts [--image build/test-image/homestack-guest.qcow2]
 *       [--size-mib 256] [--volumes-dir /var/lib/homestack-agent/volumes]
 *
 * 1. boots the test guest (no NIC) with a user_data script that waits for /sys/block/vdb
 *    (polling every 50 ms), prints when it appeared, then runs
 *    `dd if=/dev/zero of=/dev/vdb bs=1M count=N oflag=direct conv=fsync` and
 *    `dd if=/dev/vdb of=/dev/null bs=1M count=N iflag=direct`, timed with /proc/uptime
 *    (10 ms resolution), and prints the results on the serial console;
 * 2. attaches a new volume (POST /servers/{id}/os-volume_attachments) and polls the
 *    console log (os-getConsoleOutput) every 100 ms: attach → device = wall clock from
 *    sending the request to the console line being seen (so it includes up to 100 ms of
 *    polling and the time the guest takes to print);
 * 3. detaches, then runs the same two dd commands on the volume's back-end file on the
 *    host (file back end: <volumes-dir>/volume-<id>.img), and prints both and the ratios.
 * Guests here run under TCG (no nested virtualisation), which bounds the guest figures.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { makeRunner } from '../../shared/exec/run.js';

const { values } = parseArgs({
  options: {
    image: { type: 'string', default: 'build/test-image/homestack-guest.qcow2' },
    'size-mib': { type: 'string', default: '256' },
    'volumes-dir': { type: 'string', default: '/var/lib/homestack-agent/volumes' },
  },
});
const N = Number(values['size-mib']);
const run = makeRunner();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const env = (k: string) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set (source an openrc)`);
  return v;
};

const GUEST_SCRIPT = `#!/bin/sh
up() { cut -d' ' -f1 /proc/uptime; }
echo "BENCH-WAITING uptime=$(up)"
while [ ! -e /sys/block/vdb ]; do sleep 0.05; done
echo "BENCH-VDB-APPEARED uptime=$(up)"
t0=$(up)
dd if=/dev/zero of=/dev/vdb bs=1M count=${N} oflag=direct conv=fsync 2>/dev/null || echo "BENCH-ERROR write"
t1=$(up)
dd if=/dev/vdb of=/dev/null bs=1M count=${N} iflag=direct 2>/dev/null || echo "BENCH-ERROR read"
t2=$(up)
echo "BENCH-RESULT t0=$t0 t1=$t1 t2=$t2"
`;

async function auth() {
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
    token: { project: { id: string }; catalog: Array<{ type: string; endpoints: Array<{ interface: string; url: string }> }> };
  };
  const ep = (t: string) =>
    j.token.catalog
      .find((s) => s.type === t)
      ?.endpoints.find((e) => e.interface === 'public')
      ?.url.replace(/\/+$/, '') ?? '';
  return {
    token: r.headers.get('x-subject-token')!,
    project: j.token.project.id,
    compute: ep('compute'),
    image: ep('image'),
    volume: ep('volumev3'),
  };
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error('run as root (dd on the back-end file)');
  const a = await auth();
  const api = async (method: string, url: string, body?: unknown, type = 'application/json') => {
    const r = await fetch(url, {
      method,
      headers: { 'x-auth-token': a.token, 'content-type': type },
      body: body === undefined ? undefined : (body as string),
    });
    const text = await r.text();
    let parsed: any = null;
    try {
      parsed = text ? JSON.parse(text) : null;
    } catch {
      parsed = text;
    }
    return { status: r.status, body: parsed };
  };
  const json = (x: unknown) => JSON.stringify(x);
  const must = (r: { status: number; body: any }, ok: number, what: string) => {
    if (r.status !== ok) throw new Error(`${what}: ${r.status} ${json(r.body)}`);
    return r.body;
  };
  const runId = `bench${Date.now().toString(36)}`;
  const undo: Array<() => Promise<unknown>> = [];
  try {
    const img = must(
      await api('POST', `${a.image}/v2/images`, json({ name: `${runId}-guest`, disk_format: 'qcow2', container_format: 'bare' })),
      201,
      'image create',
    );
    undo.push(() => api('DELETE', `${a.image}/v2/images/${img.id}`));
    must(
      await api(
        'PUT',
        `${a.image}/v2/images/${img.id}/file`,
        readFileSync(resolve(values.image!)) as unknown as string,
        'application/octet-stream',
      ),
      204,
      'image upload',
    );
    const fl = must(
      await api('POST', `${a.compute}/flavors`, json({ flavor: { name: `${runId}-flavor`, ram: 192, vcpus: 1, disk: 1 } })),
      200,
      'flavor',
    );
    undo.push(() => api('DELETE', `${a.compute}/flavors/${fl.flavor.id}`));
    const sv = must(
      await api(
        'POST',
        `${a.compute}/servers`,
        json({
          server: {
            name: `${runId}-vm`,
            imageRef: img.id,
            flavorRef: fl.flavor.id,
            networks: 'none',
            user_data: Buffer.from(GUEST_SCRIPT).toString('base64'),
          },
        }),
      ),
      202,
      'server create',
    );
    const sid = sv.server.id as string;
    undo.push(async () => {
      await api('DELETE', `${a.compute}/servers/${sid}`);
      for (let i = 0; i < 120 && (await api('GET', `${a.compute}/servers/${sid}`)).status !== 404; i++) await sleep(500);
    });
    const consoleLog = async () =>
      (await api('POST', `${a.compute}/servers/${sid}/action`, json({ 'os-getConsoleOutput': {} }))).body?.output ?? '';
    const waitLine = async (re: RegExp, timeoutMs: number, everyMs: number) => {
      const t0 = Date.now();
      for (;;) {
        const m = re.exec(await consoleLog());
        if (m) return m;
        if (Date.now() - t0 > timeoutMs) throw new Error(`no ${re} on the console after ${timeoutMs} ms`);
        await sleep(everyMs);
      }
    };
    await waitLine(/BENCH-WAITING/, 180_000, 500);

    const vol = must(
      await api(
        'POST',
        `${a.volume}/volumes`,
        json({ volume: { size: Math.max(1, Math.ceil(N / 1024)), name: `${runId}-vol` } }),
      ),
      202,
      'volume create',
    );
    const vid = vol.volume.id as string;
    undo.push(async () => {
      for (let i = 0; i < 120; i++) {
        const v = await api('GET', `${a.volume}/volumes/${vid}`);
        if (v.status === 404) return;
        if (v.body.volume.status === 'available' || v.body.volume.status === 'error')
          await api('DELETE', `${a.volume}/volumes/${vid}`);
        await sleep(500);
      }
    });
    for (let i = 0; ; i++) {
      const v = (await api('GET', `${a.volume}/volumes/${vid}`)).body.volume;
      if (v.status === 'available') break;
      if (v.status === 'error' || i > 240) throw new Error(`volume ${vid} is ${v.status}`);
      await sleep(250);
    }

    const t0 = performance.now();
    must(
      await api('POST', `${a.compute}/servers/${sid}/os-volume_attachments`, json({ volumeAttachment: { volumeId: vid } })),
      200,
      'attach',
    );
    const tReply = performance.now() - t0;
    await waitLine(/BENCH-VDB-APPEARED/, 120_000, 100);
    const tSeen = performance.now() - t0;
    const res = await waitLine(/BENCH-RESULT t0=([\d.]+) t1=([\d.]+) t2=([\d.]+)/, 600_000, 1000);
    const log = await consoleLog();
    if (/BENCH-ERROR/.test(log))
      throw new Error(
        `dd failed in the guest:\n${log
          .split('\n')
          .filter((l: string) => l.includes('BENCH'))
          .join('\n')}`,
      );
    const [g0, g1, g2] = [Number(res[1]), Number(res[2]), Number(res[3])];
    const guestWrite = N / (g1 - g0);
    const guestRead = N / (g2 - g1);

    must(await api('DELETE', `${a.compute}/servers/${sid}/os-volume_attachments/${vid}`), 202, 'detach');
    for (let i = 0; ; i++) {
      const v = (await api('GET', `${a.volume}/volumes/${vid}`)).body.volume;
      if (v.status === 'available') break;
      if (i > 240) throw new Error(`volume ${vid} stayed ${v.status} after detach`);
      await sleep(250);
    }
    const file = resolve(values['volumes-dir']!, `volume-${vid}.img`);
    const timed = async (argv: string[]) => {
      const s = performance.now();
      await run('dd', argv, { timeoutMs: 600_000 });
      return (performance.now() - s) / 1000;
    };
    const hostWrite =
      N /
      (await timed(['if=/dev/zero', `of=${file}`, 'bs=1M', `count=${N}`, 'oflag=direct', 'conv=notrunc,fsync', 'status=none']));
    const hostRead = N / (await timed([`if=${file}`, 'of=/dev/null', 'bs=1M', `count=${N}`, 'iflag=direct', 'status=none']));

    console.log(
      `volume throughput in a TCG guest (virtio disk over QEMU's iSCSI initiator → tgt → file back end) vs host dd on the same file, ${N} MiB, 1 MiB blocks, O_DIRECT:`,
    );
    console.table([
      { where: 'guest /dev/vdb', write_MiBps: guestWrite.toFixed(1), read_MiBps: guestRead.toFixed(1) },
      { where: `host ${file}`, write_MiBps: hostWrite.toFixed(1), read_MiBps: hostRead.toFixed(1) },
    ]);
    console.log(`ratios guest/host: write ${(guestWrite / hostWrite).toFixed(2)}, read ${(guestRead / hostRead).toFixed(2)}`);
    console.log(
      `attach request → reply ${tReply.toFixed(0)} ms; → /sys/block/vdb seen in the guest's console ${tSeen.toFixed(0)} ms (console polled every 100 ms; guest polls every 50 ms)`,
    );
  } finally {
    for (const u of undo.reverse()) await u().catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
  }
}

main().catch((e: unknown) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
