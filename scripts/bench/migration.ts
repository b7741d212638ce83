/**
 * Issue 15's live-migration benchmark (not a timed test): on the two-host cloud
 * (agents/network/testing/two-host-cloud.ts), in one run,
 *   (1) Homestack: a test guest with 256 MiB of RAM and a 1 GiB root disk live-migrated
 *       A → B with the real client (`server migrate --live-migration --block-migration
 *       --host B --wait`) under a ping every 50 ms to its floating address;
 *   (2) plain libvirt between the same two libvirtds: a domain of the same image, RAM and
 *       disk size defined by hand on A, moved with `virsh migrate --live --p2p --tls
 *       --copy-storage-all` (the flags of shared/tools/virsh.ts migrateArgs, with
 *       --copy-storage-all) to B.
 * Reported: total time (Homestack: the client's call with --wait, and the migration
 * record's created → completed; virsh: the command), downtime (Homestack: the longest gap
 * between ping replies; both: QEMU's own figure from `virsh domjobinfo --completed`),
 * bytes moved (memory and disk processed, from libvirt's completed job).
 *
 *   npm run build
 *   npx tsx scripts/bench/migration.ts [--run ID]   (--run: an existing two-host cloud; else one is started and stopped)
 *
 * The hand-made domain has no network (the simulated hosts give an unmanaged guest no
 * path), so its downtime is QEMU's figure only. Run as root.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { makeRunner } from '../../shared/exec/run.js';
import { migrateArgs, parseJobInfo, type JobInfo } from '../../shared/tools/virsh.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
const CLOUD = join(ROOT, 'agents/network/testing/two-host-cloud.ts');
const IMAGE = resolve(process.env.ACC_GUEST_IMAGE ?? join(ROOT, 'build/test-image/homestack-guest.qcow2'));
const run = makeRunner();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const arg = (k: string) => (process.argv.includes(`--${k}`) ? process.argv[process.argv.indexOf(`--${k}`) + 1] : undefined);
const MiB = 1024 * 1024;

const node = (args: string[]) =>
  new Promise<{ code: number; out: string }>((res) => {
    const p = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => res({ code: code ?? -1, out }));
  });

/** The longest gap (ms) between consecutive ping replies, from `ping -D` lines ([epoch.frac] ... icmp_seq=N). */
export function longestGapMs(out: string): { gapMs: number; sent: number; received: number } {
  const times = [...out.matchAll(/^\[(\d+\.\d+)\] \d+ bytes from .*icmp_seq=\d+/gm)].map((m) => Number(m[1]) * 1000);
  let gap = 0;
  for (let i = 1; i < times.length; i++) gap = Math.max(gap, times[i]! - times[i - 1]!);
  return {
    gapMs: Math.round(gap),
    sent: Number(/(\d+) packets transmitted/.exec(out)?.[1] ?? 0),
    received: Number(/(\d+) received/.exec(out)?.[1] ?? 0),
  };
}

async function main(): Promise<number> {
  let runId = arg('run') ?? '';
  const own = !runId;
  if (own) {
    const up = await node([CLOUD, 'up', '--hosts', '2']);
    runId = /run (\w+):/.exec(up.out)?.[1] ?? '';
    if (up.code !== 0 || !runId) {
      process.stderr.write(up.out);
      return 1;
    }
  }
  const dir = `/tmp/t${runId}`;
  const ctl = join(dir, 'ctl');
  const ns = `t${runId}-ctl`;
  const [hostA, hostB] = [`t${runId}-a`, `t${runId}-b`];
  const lv = (h: 'hA' | 'hB') => `qemu+unix:///system?socket=${join(dir, h, 'lv', 'run', 'libvirt-sock')}`;
  const os = async (args: string[], timeoutMs = 300_000) =>
    (
      await run('ip', ['netns', 'exec', ns, 'sh', '-c', `. ${ctl}/openrc && openstack "$@"`, 'sh', ...args], {
        timeoutMs,
        env: { HOME: '/root', PATH: process.env.PATH ?? '' },
      })
    ).stdout.trim();
  const jobInfo = async (uri: string, dom: string): Promise<JobInfo | null> =>
    parseJobInfo((await run('virsh', ['-c', uri, 'domjobinfo', '--completed', '--rawstats', dom], { okCodes: [0, 1] })).stdout);
  const lines: string[] = [];
  try {
    // (1) Homestack
    copyFileSync(IMAGE, join(ctl, 'bench.qcow2'));
    await os(['image', 'create', '--disk-format', 'qcow2', '--file', join(ctl, 'bench.qcow2'), 'bench']);
    await os(['flavor', 'create', '--ram', '256', '--vcpus', '1', '--disk', '1', 'bench']);
    await os(['network', 'create', 'bn']);
    await os(['subnet', 'create', '--network', 'bn', '--subnet-range', '10.78.0.0/24', 'bs']);
    await os(['router', 'create', 'br']);
    await os(['router', 'add', 'subnet', 'br', 'bs']);
    await os(['router', 'set', '--external-gateway', 'public', 'br']);
    await os(['security', 'group', 'rule', 'create', '--protocol', 'icmp', 'default']).catch(() => '');
    await os(
      ['server', 'create', '--flavor', 'bench', '--image', 'bench', '--network', 'bn'].concat([
        '--availability-zone',
        `nova:${hostA}`,
        '--wait',
        'bench',
      ]),
    );
    const uuid = await os(['server', 'show', '-f', 'value', '-c', 'id', 'bench']);
    const fip = await os(['floating', 'ip', 'create', '-f', 'value', '-c', 'floating_ip_address', 'public']);
    await os(['server', 'add', 'floating', 'ip', 'bench', fip]);
    for (let i = 0; i < 90; i++) {
      const p = await run('ip', ['netns', 'exec', ns, 'ping', '-c', '1', '-W', '1', fip], { okCodes: [0, 1] });
      if (p.code === 0) break;
      await sleep(2000);
    }
    await sleep(10_000); // let the guest settle after its boot
    const ping = spawn('ip', ['netns', 'exec', ns, 'ping', '-D', '-i', '0.05', '-W', '1', fip], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let pingOut = '';
    ping.stdout.on('data', (d) => (pingOut += d));
    const closed = new Promise((r) => ping.on('close', r));
    await sleep(2000);
    const t0 = performance.now();
    await os(
      ['--os-compute-api-version', '2.30', 'server', 'migrate', '--live-migration', '--block-migration'].concat([
        '--host',
        hostB,
        '--wait',
        'bench',
      ]),
      900_000,
    );
    const hsWallS = (performance.now() - t0) / 1000;
    await sleep(3000);
    ping.kill('SIGINT');
    await closed;
    const g = longestGapMs(pingOut);
    const db = new Database(join(ctl, 'data', 'homestack.db'), { readonly: true, fileMustExist: true });
    const rec = db
      .prepare("SELECT * FROM migrations WHERE instance_uuid = ? AND migration_type = 'live-migration' ORDER BY id DESC LIMIT 1")
      .get(uuid) as Record<string, unknown> | undefined;
    db.close();
    const recS = rec?.updated_at ? (Date.parse(String(rec.updated_at)) - Date.parse(String(rec.created_at))) / 1000 : Number.NaN;
    const hsJob = await jobInfo(lv('hB'), uuid);
    lines.push(
      `homestack: ${rec?.status} ${hostA} -> ${hostB}; client with --wait ${hsWallS.toFixed(1)} s, record created -> ${rec?.status} ${recS.toFixed(1)} s` +
        `; longest ping gap ${g.gapMs} ms (${g.sent - g.received} of ${g.sent} pings lost)` +
        `; QEMU downtime ${hsJob?.downtimeMs ?? '?'} ms; moved memory ${((hsJob?.memoryProcessed ?? Number(rec?.memory_processed ?? 0)) / MiB).toFixed(1)} MiB` +
        `, disk ${((hsJob?.diskProcessed ?? Number(rec?.disk_processed ?? 0)) / MiB).toFixed(1)} MiB (destination's job)` +
        `; source's last sample (migration record): memory ${(Number(rec?.memory_processed ?? 0) / MiB).toFixed(1)} MiB, disk ${(Number(rec?.disk_processed ?? 0) / MiB).toFixed(1)} MiB` +
        `; libvirt job ${hsJob ? (hsJob.timeElapsedMs / 1000).toFixed(1) : '?'} s`,
    );
    process.stdout.write(`${lines.at(-1)}\n`);

    // (2) plain virsh, same two libvirtds, same image, RAM and disk size
    const b = join(dir, 'bench');
    mkdirSync(join(b, 'a'), { recursive: true });
    mkdirSync(join(b, 'b'), { recursive: true });
    copyFileSync(IMAGE, join(b, 'base.qcow2'));
    await run('qemu-img', ['create', '-f', 'qcow2', '-F', 'qcow2', '-b', join(b, 'base.qcow2'), join(b, 'a', 'disk'), '1G']);
    await run('qemu-img', ['create', '-f', 'qcow2', join(b, 'b', 'disk'), '1G']);
    const name = `t${runId}-virsh-bench`;
    const xml = (d: 'a') =>
      [
        `<domain type='qemu'><name>${name}</name><memory unit='MiB'>256</memory><vcpu>1</vcpu>`,
        `<os><type arch='x86_64' machine='pc'>hvm</type><boot dev='hd'/></os>`,
        '<devices>',
        `<disk type='file' device='disk'><driver name='qemu' type='qcow2'/><source file='${join(b, d, 'disk')}'/><target dev='vda' bus='virtio'/></disk>`,
        `<serial type='file'><source path='${join(b, d, 'console.log')}'/></serial>`,
        '</devices></domain>',
      ].join('');
    writeFileSync(join(b, 'a.xml'), xml('a'));
    // persistent on A, so that A keeps the completed job's figures (disk included) after the move
    await run('virsh', ['-c', lv('hA'), 'define', join(b, 'a.xml')]);
    await run('virsh', ['-c', lv('hA'), 'start', name]);
    // The destination's XML: the running domain's own (same uuid, machine, devices), its files under b/.
    const live = (await run('virsh', ['-c', lv('hA'), 'dumpxml', '--migratable', name])).stdout;
    writeFileSync(join(b, 'b.xml'), live.split(join(b, 'a/')).join(join(b, 'b/')));
    // booted: the console has stopped growing for 10 s
    let size = -1;
    for (let i = 0, still = 0; i < 90 && still < 5; i++) {
      await sleep(2000);
      const s = existsSync(join(b, 'a', 'console.log')) ? readFileSync(join(b, 'a', 'console.log')).length : 0;
      still = s > 1000 && s === size ? still + 1 : 0;
      size = s;
    }
    const addrB = readFileSync(join(dir, 'hB', 'agent.toml'), 'utf8').match(/tunnel_ip\s*=\s*"([^"]+)"/)?.[1];
    if (!addrB) throw new Error('no tunnel_ip in host B agent.toml');
    const argv = migrateArgs(name, {
      destUri: `qemu+tls://${addrB}/system`,
      dataUri: `tcp://${addrB}`,
      xmlFile: join(b, 'b.xml'),
      copyStorage: 'all',
      migrateDisks: ['vda'],
      timeoutMs: 900_000,
    }).filter((x) => x !== '--persistent' && x !== '--undefinesource'); // A keeps its definition
    const v0 = performance.now();
    await run('virsh', ['-c', lv('hA'), ...argv], { timeoutMs: 900_000 });
    const virshS = (performance.now() - v0) / 1000;
    const vJob = (await jobInfo(lv('hA'), name)) ?? (await jobInfo(lv('hB'), name));
    lines.push(
      `virsh migrate --live --p2p --tls --copy-storage-all: ${virshS.toFixed(1)} s; QEMU downtime ${vJob?.downtimeMs ?? '?'} ms` +
        `; moved memory ${((vJob?.memoryProcessed ?? 0) / MiB).toFixed(1)} MiB, disk ${((vJob?.diskProcessed ?? 0) / MiB).toFixed(1)} MiB (source's job)` +
        `; libvirt job ${vJob ? (vJob.timeElapsedMs / 1000).toFixed(1) : '?'} s`,
    );
    process.stdout.write(`${lines.at(-1)}\n`);
    process.stdout.write(
      `ratio homestack (client, --wait) / virsh: ${(hsWallS / virshS).toFixed(2)}; record / virsh: ${(recS / virshS).toFixed(2)}\n`,
    );
    await run('virsh', ['-c', lv('hB'), 'destroy', name], { okCodes: [0, 1] });
    await run('virsh', ['-c', lv('hA'), 'destroy', name], { okCodes: [0, 1] });
    await run('virsh', ['-c', lv('hA'), 'undefine', name], { okCodes: [0, 1] });
    await os(['server', 'delete', '--wait', 'bench']).catch(() => '');
    return 0;
  } finally {
    if (own) await node([CLOUD, 'down', runId]);
  }
}

main().then(
  (c) => process.exit(c),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
