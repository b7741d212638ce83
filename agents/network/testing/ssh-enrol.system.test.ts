import Database from 'better-sqlite3';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * Issue 10's end-to-end check: a second host enrolled with `homestack host add` over SSH
 * runs a guest that pings a guest on the first host. The two-host cloud
 * (two-host-cloud.ts, run with tsx; its agents and controller from the build) with --ssh-enrol: host A configured directly, host B a real
 * sshd enrolled over SSH; then, with the real openstack client in the controller's
 * namespace: a tenant network, a1 on A and a2 on B (availability zone nova:<host>),
 * and a2's user_data pings a1 and prints the result on its console.
 */
const ROOT = resolve(import.meta.dirname, '..', '..', '..');
const SCRIPT = join(ROOT, 'agents/network/testing/two-host-cloud.ts');
const BUILT = join(ROOT, 'dist/agents/main.js');
const IMAGE = resolve(process.env.ACC_GUEST_IMAGE ?? join(ROOT, 'build/test-image/homestack-guest.qcow2'));
const why =
  process.env.SYSTEM_TESTS !== '1'
    ? 'SYSTEM_TESTS is not 1'
    : process.getuid?.() !== 0
      ? 'not root'
      : !existsSync('/usr/sbin/sshd')
        ? 'no /usr/sbin/sshd'
        : !existsSync('/usr/bin/openstack')
          ? 'no openstack client'
          : !existsSync(BUILT)
            ? 'no build (npm run build)'
            : !existsSync(IMAGE)
              ? `no test image at ${IMAGE}`
              : '';
if (why) console.log(`SSH-enrolled host ping test: skipped: ${why}`);

const node = (args: string[]) =>
  new Promise<{ code: number; out: string }>((res) => {
    const p = spawn(process.execPath, ['--import', 'tsx', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.on('close', (code) => res({ code: code ?? -1, out }));
  });

describe.skipIf(Boolean(why))('a host enrolled over SSH runs a guest that reaches a guest on the first host', () => {
  let runId = '';
  afterAll(async () => {
    if (runId) await node([SCRIPT, 'down', runId]);
  }, 120_000);

  it('enrols host B over SSH, boots a1 on A and a2 on B, and a2 pings a1', async () => {
    const t0 = Date.now();
    const up = await node([SCRIPT, 'up', '--hosts', '2', '--ssh-enrol']);
    runId = /run (\w+):/.exec(up.out)?.[1] ?? '';
    expect(up.code, up.out).toBe(0);
    expect(up.out).toMatch(/host B enrolled over SSH in \d+ ms \(exit 0\)/);
    console.log(
      `[figures] two-host cloud up with host B enrolled over SSH: ${Date.now() - t0} ms; ${/host B enrolled over SSH in \d+ ms/.exec(up.out)?.[0]}`,
    );
    const ctl = `/tmp/t${runId}/ctl`;
    copyFileSync(IMAGE, join(ctl, 'guest.qcow2'));
    const os = (args: string[]) =>
      execFileSync('ip', ['netns', 'exec', `t${runId}-ctl`, 'sh', '-c', `. ${ctl}/openrc && openstack "$@"`, 'sh', ...args], {
        encoding: 'utf8',
        timeout: 300_000,
      });
    const hosts = os(['compute', 'service', 'list', '-f', 'value', '-c', 'Host']).trim().split('\n').sort();
    expect(hosts).toEqual([`t${runId}-a`, `t${runId}-b`]);
    // Both agents (enrol-local on A, host add over SSH on B) serve mutual TLS with their host certificate.
    const db = new Database(join(ctl, 'data', 'homestack.db'), { readonly: true, fileMustExist: true });
    const urls = (db.prepare('SELECT agent_url FROM hosts ORDER BY name').all() as { agent_url: string }[]).map(
      (r) => r.agent_url,
    );
    db.close();
    expect(urls).toEqual(['https://198.51.100.11:8001', 'https://198.51.100.12:8001']);
    os(['image', 'create', '--disk-format', 'qcow2', '--file', join(ctl, 'guest.qcow2'), 'guest']);
    os(['flavor', 'create', '--ram', '192', '--vcpus', '1', '--disk', '1', 'tiny']);
    os(['network', 'create', 'n1']);
    os(['subnet', 'create', '--network', 'n1', '--subnet-range', '10.77.0.0/24', 's1']);
    os(['security', 'group', 'rule', 'create', '--protocol', 'icmp', 'default']);
    os([
      'server',
      'create',
      '--flavor',
      'tiny',
      '--image',
      'guest',
      '--network',
      'n1',
      '--availability-zone',
      `nova:t${runId}-a`,
      '--wait',
      'a1',
    ]);
    const a1 = /10\.77\.0\.\d+/.exec(os(['server', 'show', '-f', 'value', '-c', 'addresses', 'a1']))![0];
    writeFileSync(
      join(ctl, 'a2.sh'),
      `#!/bin/sh\nn=0; until ping -c1 -W1 ${a1} >/dev/null 2>&1; do n=$((n+1)); [ $n -gt 60 ] && break; sleep 2; done\nping -c3 -W2 ${a1} >/dev/null 2>&1 && echo HS-A2-REACHES-A1 || echo HS-A2-NOT-A1\n`,
    );
    os([
      'server',
      'create',
      '--flavor',
      'tiny',
      '--image',
      'guest',
      '--network',
      'n1',
      '--availability-zone',
      `nova:t${runId}-b`,
      '--user-data',
      join(ctl, 'a2.sh'),
      '--wait',
      'a2',
    ]);
    expect(os(['server', 'show', '-f', 'value', '-c', 'OS-EXT-SRV-ATTR:host', 'a2']).trim()).toBe(`t${runId}-b`);
    let log = '';
    for (let i = 0; i < 90 && !/HS-A2-(REACHES|NOT)-A1/.test(log); i++) {
      await new Promise((r) => setTimeout(r, 2000));
      log = os(['console', 'log', 'show', 'a2']);
    }
    expect(log).toContain('HS-A2-REACHES-A1');
  }, 900_000);
});
