import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { realCloudLifecycle, realCloudUnavailable, type RealCloud } from './cloud.js';
import { sleep, until } from '../processes/util.js';

/**
 * Issue 11, scenario 3 (tgtd and ovs-vswitchd) with REAL guests:
 * - a guest writes to its attached iSCSI volume every 0.5 s (a user_data loop, results
 *   on its console); the host's tgtd gets kill -9 and is started again, empty. The
 *   agent's export healing must put back the target, the LUN, the CHAP account and the
 *   ACL, QEMU's initiator must log in again by itself, and the guest's writes must go on
 *   (the gap is measured); the volume stays in-use and detaches and re-attaches after;
 * - two guests are pinged every 0.2 s from the network's DHCP namespace; the host's
 *   ovs-vswitchd gets kill -9 and is started again: the agent must put the flows back
 *   (the gap is measured) and every port stays ACTIVE.
 */
const why = realCloudUnavailable();
if (why) console.log(`[skip] faults/real tgtd and ovs-vswitchd restarts: ${why}`);

const IO_SCRIPT = `#!/bin/sh
n=0
while [ ! -b /dev/vdb ]; do sleep 1; done
echo HS-VDB-SEEN
while true; do
  n=$((n+1))
  if echo "hs-block-$n" | dd of=/dev/vdb bs=512 seek=$((n % 2000)) conv=fsync 2>/dev/null; then echo "HS-W $n ok"; else echo "HS-W $n fail"; fi
  sleep 0.5
done
`;

describe.skipIf(Boolean(why))('tgtd and ovs-vswitchd restarts under real guests', () => {
  let c: RealCloud;
  let basics: { imageId: string; flavorId: string; networkId: string };
  const figures: Record<string, unknown> = {};
  let stopPings = (): void => {};
  realCloudLifecycle(
    {},
    figures,
    async (x) => {
      c = x;
      basics = await c.basics();
      const sg = (await c.api('GET', `/network/v2.0/security-groups?name=default&project_id=${c.projectId}`)).body
        .security_groups[0].id;
      expect(
        (
          await c.api('POST', '/network/v2.0/security-group-rules', {
            security_group_rule: { security_group_id: sg, direction: 'ingress', protocol: 'icmp' },
          })
        ).status,
      ).toBe(201);
    },
    () => stopPings(),
  );
  const server = (id: string) => c.server(id);
  const volume = (id: string) => c.volume(id);
  const consoleOf = async (id: string) =>
    String((await c.api('POST', `/compute/v2.1/servers/${id}/action`, { 'os-getConsoleOutput': {} })).body.output ?? '');
  const boot = async (name: string, userData?: string) => {
    const r = await c.api('POST', '/compute/v2.1/servers', {
      server: {
        name,
        imageRef: basics.imageId,
        flavorRef: basics.flavorId,
        networks: [{ uuid: basics.networkId }],
        ...(userData ? { user_data: Buffer.from(userData).toString('base64'), config_drive: true } : {}),
      },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body.server.id as string;
  };
  const writes = (log: string) => [...log.matchAll(/HS-W (\d+) (ok|fail)/g)].map((m) => ({ n: Number(m[1]), ok: m[2] === 'ok' }));

  it("tgtd kill -9: exports healed, the guest's initiator logs in again, its writes go on", async () => {
    const id = await boot('io', IO_SCRIPT);
    const v = await c.api('POST', `/volume/v3/${c.projectId}/volumes`, { volume: { name: 'iov', size: 1 } });
    const vol = v.body.volume.id as string;
    await until(
      'server ACTIVE, volume available',
      async () => (await server(id)).status === 'ACTIVE' && (await volume(vol)).status === 'available',
      180_000,
      500,
    );
    expect(
      (await c.api('POST', `/compute/v2.1/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: vol } })).status,
    ).toBe(200);
    await until('volume in-use', async () => (await volume(vol)).status === 'in-use', 60_000, 500);
    await until(
      'the guest writing to its volume',
      async () => writes(await consoleOf(id)).filter((w) => w.ok).length >= 5,
      120_000,
      1000,
    );
    const before = writes(await consoleOf(id));
    const showBefore = (await c.host.run('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout;
    expect(showBefore).toMatch(/I_T nexus/);

    const pid = c.pidOf('tgtd');
    process.kill(pid, 'SIGKILL');
    const tKill = Date.now();
    await until(
      'tgtd gone',
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      5_000,
      20,
    );
    await c.startTgtd();
    const tStart = Date.now();
    figures.tgtd_down_ms = tStart - tKill;
    const healed = await until(
      'target, account and ACL back',
      async () => {
        const show = (await c.host.run('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout;
        return show.includes(vol) && /Account information:\s*\n\s+\S/.test(show) && /ACL information:\s*\n\s+\S/.test(show)
          ? show
          : null;
      },
      30_000,
      200,
    );
    figures.exports_healed_after_start_ms = Date.now() - tStart;
    await until(
      'the initiator logged in again (I_T nexus)',
      async () =>
        /I_T nexus: \d+/.test((await c.host.run('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout),
      60_000,
      500,
    ).catch((e) => {
      figures.no_relogin = healed.slice(0, 600);
      throw e;
    });
    figures.relogin_after_start_ms = Date.now() - tStart;
    const lastBefore = before.at(-1)!.n;
    await until(
      'writes go on after the restart',
      async () => writes(await consoleOf(id)).filter((w) => w.ok && w.n > lastBefore + 5).length >= 3,
      90_000,
      1000,
    );
    const all = writes(await consoleOf(id));
    const okTimes = all.filter((w) => w.ok).map((w) => w.n);
    let gap = 0;
    for (let k = 1; k < okTimes.length; k++) gap = Math.max(gap, okTimes[k]! - okTimes[k - 1]!);
    figures.guest_writes = { ok: okTimes.length, failed: all.filter((w) => !w.ok).length, longest_gap_in_writes: gap };
    expect((await volume(vol)).status).toBe('in-use');
    // The usual operations afterwards.
    expect((await c.api('DELETE', `/compute/v2.1/servers/${id}/os-volume_attachments/${vol}`)).status).toBe(202);
    await until('volume available', async () => (await volume(vol)).status === 'available', 60_000, 500);
    expect(
      (await c.api('POST', `/compute/v2.1/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: vol } })).status,
    ).toBe(200);
    await until('volume in-use again', async () => (await volume(vol)).status === 'in-use', 60_000, 500);
    expect((await c.api('DELETE', `/compute/v2.1/servers/${id}`)).status).toBe(204);
    await until('volume available after the delete', async () => (await volume(vol)).status === 'available', 60_000, 500);
    expect((await c.api('DELETE', `/volume/v3/${c.projectId}/volumes/${vol}`)).status).toBe(202);
  }, 600_000);

  it('ovs-vswitchd kill -9: flows put back, guests reachable again, ports ACTIVE', async () => {
    const ids = [await boot('p1'), await boot('p2')];
    const guests = await until(
      'both ACTIVE',
      async () => {
        const s = await Promise.all(ids.map(server));
        return s.every((x) => x.status === 'ACTIVE') ? s : null;
      },
      180_000,
      500,
    );
    const ips = guests.map((s) => Object.values(s.addresses as Record<string, Array<{ addr: string }>>).flat()[0]!.addr);
    const ns = `qdhcp-${basics.networkId}`;
    await c.waitPingable(
      ns,
      ids.map((id, i) => ({ id, ip: ips[i]! })),
      120_000,
    );
    const pinging = c.pingForever(ns, ips);
    stopPings = pinging.stop;
    const replies = pinging.replies;
    await sleep(2000);
    const pidFile = join(c.host.dir, 'run', 'ovs-vswitchd.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    process.kill(pid, 'SIGKILL');
    const tKill = Date.now();
    await until(
      'ovs-vswitchd gone',
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      5_000,
      20,
    );
    await c.host.run('ovs-vswitchd', [
      'unix:/run/openvswitch/db.sock',
      '--pidfile=/run/openvswitch/ovs-vswitchd.pid',
      `--log-file=${join(c.host.dir, 'ovs-vswitchd.log')}`,
      '--detach',
    ]);
    figures.ovs_restart_ms = Date.now() - tKill;
    const n0 = replies.map((r) => r.length);
    await until('pings answered again', () => replies.every((r, i) => r.length >= n0[i]! + 10), 60_000, 200);
    figures.ovs_back_after_kill_ms = Date.now() - tKill;
    pinging.stop();
    figures.ovs_pings = replies.map((r) => {
      let gap = 0;
      for (let k = 1; k < r.length; k++) gap = Math.max(gap, r[k]!.seq - r[k - 1]!.seq - 1);
      return { answered: r.length, longest_gap_lost: gap };
    });
    const ports = c
      .q<{ status: string }>(`SELECT status FROM net_ports WHERE device_owner LIKE 'compute:%'`)
      .map((p) => p.status);
    expect(ports).toEqual(['ACTIVE', 'ACTIVE']);
    const extra = await boot('p3');
    await until('p3 ACTIVE', async () => (await server(extra)).status === 'ACTIVE', 120_000, 500);
    for (const id of [...ids, extra]) expect((await c.api('DELETE', `/compute/v2.1/servers/${id}`)).status).toBe(204);
    await until('the host holds no guest', async () => (await c.onHost()).domains.length === 0, 60_000, 1000);
  }, 600_000);
});
