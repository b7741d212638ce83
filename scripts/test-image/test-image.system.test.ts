// System test of the Homestack test guest (scripts/build-test-image.sh): boot the
// image under QEMU TCG with a config drive and two NICs served by dnsmasq in a
// network namespace, read the serial console, hot-plug a disk, press the ACPI
// power button. Needs root, qemu-system-x86_64, qemu-img, dnsmasq, ip and
// genisoimage or xorriso; runs only with SYSTEM_TESTS=1.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const execFileP = promisify(execFile);
const REPO = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const IMAGE = join(REPO, 'build/test-image/homestack-guest.qcow2');
const RUN = `t${Date.now().toString(36).slice(-6)}`;
const NS = `${RUN}-img`;
const HOST = `${RUN}-vm`;
const KEY = `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHomestackTestKeyOnly${RUN} hs-${RUN}`;

const PATH = `${process.env.PATH ?? ''}${delimiter}/usr/sbin${delimiter}/sbin`;
const ENV = { ...process.env, PATH, LC_ALL: 'C' };
const onPath = (t: string) => PATH.split(delimiter).some((d) => d && existsSync(join(d, t)));

function skipReason(): string {
  if (!process.env.SYSTEM_TESTS) return 'SYSTEM_TESTS is not set';
  if (process.getuid?.() !== 0) return 'needs root';
  const missing = ['qemu-system-x86_64', 'qemu-img', 'dnsmasq', 'ip'].filter((t) => !onPath(t));
  if (!onPath('genisoimage') && !onPath('xorriso')) missing.push('genisoimage|xorriso');
  return missing.length ? `missing tools: ${missing.join(' ')}` : '';
}
const SKIP = skipReason();
if (SKIP) console.log(`test-image system test skipped: ${SKIP}`);

const run = async (cmd: string, args: string[], timeout = 60_000) =>
  (await execFileP(cmd, args, { timeout, maxBuffer: 16 << 20, env: ENV })).stdout;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!!SKIP)('homestack test guest image', () => {
  let dir = '';
  let qemu: ChildProcess | undefined;
  let dnsmasq: ChildProcess | undefined;
  let qemuExit: Promise<number | null> = Promise.resolve(null);
  let bootedAt = 0;
  const consoleLog = () => readFile(join(dir, 'console.log'), 'utf8').catch(() => '');

  /** Wait until the serial console matches `re`; return the match. */
  async function waitConsole(re: RegExp, timeoutMs = 90_000): Promise<RegExpMatchArray> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = (await consoleLog()).match(re);
      if (m) return m;
      if (Date.now() > end) throw new Error(`console never showed ${re}; tail:\n${(await consoleLog()).slice(-3000)}`);
      await sleep(250);
    }
  }

  /** One HMP command on the QEMU monitor socket; resolves with its output. */
  function monitor(cmd: string): Promise<string> {
    return new Promise((ok, fail) => {
      const s = connect(join(dir, 'monitor.sock'));
      let buf = '';
      let sent = false;
      const timer = setTimeout(() => {
        s.destroy();
        fail(new Error(`monitor: no reply to ${cmd}`));
      }, 10_000);
      s.on('error', (e) => {
        clearTimeout(timer);
        fail(e);
      });
      s.on('data', (d) => {
        buf += d.toString();
        if (!sent && buf.includes('(qemu) ')) {
          sent = true;
          buf = '';
          s.write(`${cmd}\n`);
        } else if (sent && buf.includes('(qemu) ')) {
          clearTimeout(timer);
          s.end();
          ok(buf);
        }
      });
    });
  }

  beforeAll(async () => {
    await run('bash', [join(REPO, 'scripts/build-test-image.sh')], 600_000);
    dir = await mkdtemp(join(tmpdir(), `${RUN}-img-`));
    await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-F', 'qcow2', '-b', IMAGE, join(dir, 'overlay.qcow2')]);
    await run('qemu-img', ['create', '-q', '-f', 'raw', join(dir, 'hot.raw'), '16M']);

    // Config drive, shaped like Nova's (a nested "name" must not win over "hostname").
    const latest = join(dir, 'cd/openstack/latest');
    await mkdir(latest, { recursive: true });
    await writeFile(
      join(latest, 'meta_data.json'),
      JSON.stringify({
        uuid: '5d3b4a1e-0000-4000-8000-000000000005',
        name: `HS ${RUN}`,
        hostname: HOST,
        keys: [{ name: 'k1', type: 'ssh', data: `${KEY}\n` }],
        public_keys: { k1: `${KEY}\n` },
        launch_index: 0,
        availability_zone: 'nova',
        meta: {},
        devices: [],
      }),
    );
    await writeFile(
      join(latest, 'user_data'),
      [
        '#!/bin/sh',
        'echo "HS-HOST $(hostname)"',
        "echo \"HS-KEYS $(tr '\\n' '|' < /root/.ssh/authorized_keys)\"",
        'echo "HS-MTU eth0=$(cat /sys/class/net/eth0/mtu) eth1=$(cat /sys/class/net/eth1/mtu)"',
        'echo "HS-ROUTE $(ip route show default)"',
        "echo \"HS-RESOLV $(grep nameserver /etc/resolv.conf | tr '\\n' ' ')\"",
        "grep ' /mnt/config ' /proc/mounts | grep -q ' ro[, ]' && echo HS-CONFIG-RO",
        'ping -c1 -W2 203.0.113.1 >/dev/null 2>&1 && echo HS-PING-OK',
        'echo HS-USERDATA-DONE',
        'n=0; until [ -b /dev/vdb ]; do n=$((n+1)); [ $n -gt 120 ] && break; sleep 1; done',
        'echo "HS-VDB $(cat /sys/block/vdb/size 2>/dev/null)"',
        `printf 'HS-DATA-${RUN}' | dd of=/dev/vdb bs=512 conv=sync,fsync 2>/dev/null && echo HS-WROTE`,
        '',
      ].join('\n'),
    );
    const iso = join(dir, 'config.iso');
    const mkisofs = onPath('genisoimage') ? ['genisoimage'] : ['xorriso', '-as', 'mkisofs'];
    await run(mkisofs[0], [...mkisofs.slice(1), '-quiet', '-o', iso, '-V', 'config-2', '-J', '-R', join(dir, 'cd')]);

    // Two networks in a namespace: tap0 198.51.100.1/24, tap1 203.0.113.1/24 with MTU option 1450.
    await run('ip', ['netns', 'add', NS]);
    await run('ip', ['-n', NS, 'link', 'set', 'lo', 'up']);
    for (const [tap, cidr] of [
      ['tap0', '198.51.100.1/24'],
      ['tap1', '203.0.113.1/24'],
    ]) {
      await run('ip', ['-n', NS, 'tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      await run('ip', ['-n', NS, 'addr', 'add', cidr, 'dev', tap]);
      await run('ip', ['-n', NS, 'link', 'set', tap, 'up']);
    }
    dnsmasq = spawn(
      'ip',
      [
        'netns',
        'exec',
        NS,
        'dnsmasq',
        '--keep-in-foreground',
        '--conf-file=/dev/null',
        '--no-hosts',
        '--no-resolv',
        '--port=0',
        '--user=root',
        '--bind-dynamic',
        '--interface=tap0',
        '--interface=tap1',
        '--except-interface=lo',
        '--dhcp-range=set:n1,198.51.100.50,198.51.100.99,255.255.255.0,10m',
        '--dhcp-range=set:n2,203.0.113.50,203.0.113.99,255.255.255.0,10m',
        '--dhcp-option=tag:n1,option:dns-server,198.51.100.1',
        '--dhcp-option=tag:n2,26,1450',
        `--dhcp-leasefile=${join(dir, 'leases')}`,
        `--log-facility=${join(dir, 'dnsmasq.log')}`,
        '--log-dhcp',
      ],
      { stdio: 'ignore', env: ENV },
    );

    qemu = spawn(
      'ip',
      [
        'netns',
        'exec',
        NS,
        'qemu-system-x86_64',
        '-accel',
        'tcg',
        '-m',
        '192',
        '-smp',
        '1',
        '-display',
        'none',
        '-no-user-config',
        '-serial',
        `file:${join(dir, 'console.log')}`,
        '-monitor',
        `unix:${join(dir, 'monitor.sock')},server,nowait`,
        '-drive',
        `file=${join(dir, 'overlay.qcow2')},if=virtio,format=qcow2`,
        '-drive',
        `file=${iso},media=cdrom,format=raw,readonly=on`,
        '-netdev',
        'tap,id=n0,ifname=tap0,script=no,downscript=no',
        '-device',
        'virtio-net-pci,netdev=n0,mac=52:54:00:5e:00:01',
        '-netdev',
        'tap,id=n1,ifname=tap1,script=no,downscript=no',
        '-device',
        'virtio-net-pci,netdev=n1,mac=52:54:00:5e:00:02',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'], env: ENV },
    );
    qemuExit = new Promise((r) => qemu!.once('exit', (code) => r(code)));
    bootedAt = Date.now();
  });

  afterAll(async () => {
    for (const p of [qemu, dnsmasq]) if (p && p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    await Promise.race([qemuExit, sleep(5000)]);
    await run('ip', ['netns', 'del', NS]).catch(() => {});
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('boots from its disk and prints the UP line with both DHCP addresses', async () => {
    const m = await waitConsole(/HOMESTACK-GUEST-UP hostname=(\S+) addrs=(\S*)/);
    console.log(`test guest UP ${((Date.now() - bootedAt) / 1000).toFixed(1)} s after qemu start: ${m[0]}`);
    expect(m[1]).toBe(HOST);
    expect(m[2]).toMatch(/198\.51\.100\.\d+\/24/);
    expect(m[2]).toMatch(/203\.0\.113\.\d+\/24/);
  });

  it('runs user_data from the config drive with hostname and key in place', async () => {
    await waitConsole(/HS-USERDATA-DONE/, 60_000);
    const log = await consoleLog();
    expect(log).toContain(`HS-HOST ${HOST}`);
    expect(log).toContain(`HS-KEYS ${KEY}|`);
    expect(log).toContain('HS-CONFIG-RO');
  });

  it('honours the DHCP MTU option, router and DNS on every NIC', async () => {
    const log = await consoleLog();
    expect(log).toContain('HS-MTU eth0=1500 eth1=1450');
    expect(log).toMatch(/HS-ROUTE default via 198\.51\.100\.1 dev eth0/);
    expect(log).toContain('HS-RESOLV nameserver 198.51.100.1');
    expect(log).toContain('HS-PING-OK');
  });

  it('sees a hot-plugged virtio disk as /dev/vdb and writes to it', async () => {
    await monitor(`drive_add 0 if=none,id=hot0,format=raw,file=${join(dir, 'hot.raw')}`);
    await monitor('device_add virtio-blk-pci,drive=hot0,id=hotdisk0');
    await waitConsole(/HS-WROTE/, 90_000);
    expect(await consoleLog()).toContain('HS-VDB 32768');
    const head = (await readFile(join(dir, 'hot.raw'))).subarray(0, 64).toString('latin1');
    expect(head).toContain(`HS-DATA-${RUN}`);
  });

  it('powers off cleanly on an ACPI power-button press', async () => {
    const t0 = Date.now();
    await monitor('system_powerdown');
    const code = await Promise.race([qemuExit, sleep(30_000).then(() => 'timeout' as const)]);
    console.log(`test guest powered off ${((Date.now() - t0) / 1000).toFixed(1)} s after system_powerdown`);
    expect(code).toBe(0);
    expect(await consoleLog()).toContain('HOMESTACK-GUEST-DOWN');
  });
});
