import { describe, expect, it } from 'vitest';
import { downBoundS } from '../../controller/jobs/testing/down-bound.js';
import { realCloudLifecycle, realCloudUnavailable, type RealCloud } from './cloud.js';
import { sleep, until } from '../processes/util.js';

/**
 * Issue 11, scenario 2 with REAL drivers: the agent of a host whose libvirtd (TCG), OVS
 * and tgtd are its own gets kill -9
 * - during boots: 8 server creates, killed while several are half made on the host
 *   (instance directories written, domains being defined or started). With the DEFAULT
 *   heartbeat (10 s × 3) the host must be marked down within the worst case of that
 *   configuration (32 s, plus 1 s of polling slack); the builds must not
 *   hang; once the agent is back, what the host holds (domains, instance directories, OVS
 *   taps) must equal the database's servers on it — whatever the killed spawns left
 *   (QEMU survives its agent) is removed by the controller's reconciliation, not by the
 *   test;
 * - during volume attaches: 3 hot-plugs in flight (all 3 volumes still attaching right
 *   after the kill). Each volume ends in-use (listed, in the domain, a CHAP account on
 *   its target) or available (none of these).
 * Then everything is deleted and the host is empty.
 */
const why = realCloudUnavailable();
if (why) console.log(`[skip] faults/real agent kill during boots and attaches: ${why}`);
const N = 8;

describe.skipIf(Boolean(why))('agent kill -9 during real boots and attaches', () => {
  let c: RealCloud;
  let basics: { imageId: string; flavorId: string; networkId: string };
  const figures: Record<string, unknown> = {};
  realCloudLifecycle(
    { heartbeatS: 10, downAfterMissed: 3, controllerCompute: ['sync_power_state_s = 5'] },
    figures,
    async (x) => {
      c = x;
      basics = await c.basics();
    },
  );
  const server = (id: string) => c.server(id);
  const volume = (id: string) => c.volume(id);
  const create = async (name: string) => {
    const r = await c.api('POST', '/compute/v2.1/servers', {
      server: { name, imageRef: basics.imageId, flavorRef: basics.flavorId, networks: [{ uuid: basics.networkId }] },
    });
    expect(r.status, JSON.stringify(r.body)).toBe(202);
    return r.body.server.id as string;
  };
  /** Servers the database places on the host, and the host's own inventory, until they agree. */
  const hostMatchesDb = async (what: string) => {
    const onDb = () =>
      c.q<{ id: string }>(`SELECT id FROM instances WHERE deleted = 0 AND host = ? ORDER BY id`, c.hostName).map((r) => r.id);
    const ports = () =>
      c
        .q<{ id: string }>(`SELECT id FROM net_ports WHERE device_owner LIKE 'compute:%' OR device_owner = 'network:dhcp'`)
        .map((p) => `tap${p.id.slice(0, 11)}`)
        .sort();
    return until(
      what,
      async () => {
        const ids = onDb();
        const h = await c.onHost();
        const ok =
          JSON.stringify(h.domains) === JSON.stringify(ids.map((id) => `instance-${id}`)) &&
          JSON.stringify(h.instanceDirs) === JSON.stringify(ids) &&
          JSON.stringify(h.taps) === JSON.stringify(ports());
        figures.last_mismatch = ok
          ? undefined
          : {
              db: ids.length,
              domains: h.domains.length,
              dirs: h.instanceDirs.length,
              taps: h.taps.length,
              ports: ports().length,
            };
        return ok ? { ids, h } : null;
      },
      90_000,
      1000,
    );
  };

  it('boots: host down within the default worst case (10 s × 3 + 2 s check), no build hangs, and what the killed spawns left is cleaned up', async () => {
    const ids: string[] = [];
    for (let i = 0; i < N; i++) ids.push(await create(`b${i}`));
    // Kill while spawns are under way on the host.
    const atKill = await until(
      'spawns under way on the host',
      async () => {
        const h = await c.onHost();
        const building = (await Promise.all(ids.map(server))).filter((s) => s.status === 'BUILD').length;
        return h.running.length >= 2 && building >= 3 ? { h, building } : null;
      },
      120_000,
      50,
    );
    await c.kill9('agent');
    const tKill = Date.now();
    figures.boot_at_kill = {
      building: atKill.building,
      domains: atKill.h.domains.length,
      running: atKill.h.running.length,
      dirs: atKill.h.instanceDirs.length,
    };
    await c.waitHost('down', 40_000);
    const downS = (Date.now() - tKill) / 1000;
    figures.host_down_after_kill_s = downS;
    expect(downS).toBeLessThanOrEqual(downBoundS(10, 3));
    const whileDown = await Promise.all(ids.map(server));
    figures.boot_while_down = count(whileDown.map((s) => s.status));
    const tBack = Date.now();
    c.startAgent();
    figures.host_up_after_restart_s = (await c.waitHost('up', 60_000)) / 1000;
    const settled = await until(
      'no server in BUILD',
      async () => {
        const s = await Promise.all(ids.map(server));
        return s.every((x) => x.status !== 'BUILD') ? s : null;
      },
      120_000,
      500,
    );
    for (const s of settled) {
      expect(['ACTIVE', 'SHUTOFF', 'ERROR'], `${s.id} ${s.status}`).toContain(s.status);
      if (s.status === 'ERROR') expect(s.fault?.message, s.id).toBeTruthy();
    }
    figures.boot_final = count(settled.map((s) => s.status));
    figures.boot_faults = [
      ...new Set(
        settled.filter((s) => s.status === 'ERROR').map((s) => String(s.fault.message).replace(/[0-9a-f-]{36}/g, '<id>')),
      ),
    ];
    const { ids: onHost } = await hostMatchesDb('the host to hold exactly the servers the database places on it');
    figures.boot_host_clean_after_restart_s = (Date.now() - tBack) / 1000;
    figures.boot_servers_on_host = onHost.length;
    expect(
      c.q<{ instance_id: string }>('SELECT instance_id FROM allocations ORDER BY instance_id').map((a) => a.instance_id),
    ).toEqual(onHost);
    for (const id of ids) expect((await c.api('DELETE', `/compute/v2.1/servers/${id}`)).status).toBe(204);
    await until(
      'boot servers gone',
      async () =>
        (await Promise.all(ids.map(async (id) => (await c.api('GET', `/compute/v2.1/servers/${id}`)).status))).every(
          (s) => s === 404,
        ),
      120_000,
      500,
    );
    const empty = await hostMatchesDb('the host to be empty');
    expect(empty.ids).toEqual([]);
  }, 600_000);

  it('attaches: each volume ends in-use and plugged, or available and unplugged', async () => {
    const srv: string[] = [];
    for (let i = 0; i < 3; i++) srv.push(await create(`a${i}`));
    const vols: string[] = [];
    for (let i = 0; i < 3; i++) {
      const v = await c.api('POST', `/volume/v3/${c.projectId}/volumes`, { volume: { name: `av${i}`, size: 1 } });
      expect(v.status, JSON.stringify(v.body)).toBe(202);
      vols.push(v.body.volume.id);
    }
    await until(
      'servers ACTIVE and volumes available',
      async () => {
        const s = await Promise.all(srv.map(server));
        const v = await Promise.all(vols.map(volume));
        return s.every((x) => x.status === 'ACTIVE') && v.every((x) => x.status === 'available');
      },
      180_000,
      500,
    );
    const acc = await Promise.all(
      srv.map((id, i) =>
        c.api('POST', `/compute/v2.1/servers/${id}/os-volume_attachments`, { volumeAttachment: { volumeId: vols[i] } }),
      ),
    );
    await c.kill9('agent');
    for (const r of acc) expect(r.status, JSON.stringify(r.body)).toBe(200);
    // Accepted = exported; the hot-plugs were on their way when the agent died, and
    // nothing can finish them while it is dead: each volume must still be attaching.
    const atKill = (await Promise.all(vols.map(volume))).map((v) => v.status);
    figures.attach_at_kill = count(atKill);
    expect(atKill, 'volumes right after the kill').toEqual(vols.map(() => 'attaching'));
    await sleep(3000);
    const tBack = Date.now();
    c.startAgent();
    await c.waitHost('up', 60_000);
    const final = await until(
      'every volume in-use or available',
      async () => {
        const v = await Promise.all(vols.map(volume));
        return v.every((x) => x.status === 'in-use' || x.status === 'available') ? v : null;
      },
      120_000,
      500,
    );
    figures.attach_settled_after_restart_s = (Date.now() - tBack) / 1000;
    figures.attach_final = count(final.map((v) => v.status));
    const tgt = (await c.host.run('tgtadm', ['--lld', 'iscsi', '--mode', 'target', '--op', 'show'])).stdout;
    for (let i = 0; i < 3; i++) {
      const v = final[i]!;
      const listed = (await c.api('GET', `/compute/v2.1/servers/${srv[i]}/os-volume_attachments`)).body.volumeAttachments.map(
        (a: any) => a.volumeId,
      );
      const blk = (await c.host.run('virsh', ['-c', 'qemu:///system', 'domblklist', `instance-${srv[i]}`])).stdout;
      const section = tgt.split(/^(?=Target \d+: )/m).find((b) => b.split('\n')[0]!.includes(v.id)) ?? '';
      expect(section, `target of ${v.id}`).not.toBe('');
      if (v.status === 'in-use') {
        expect(listed).toEqual([v.id]);
        expect(blk).toMatch(/\bvdb\b/);
        expect(section).toMatch(/Account information:\s*\n\s+\S/);
      } else {
        expect(listed).toEqual([]);
        expect(blk).not.toMatch(/\bvdb\b/);
        expect(section).toMatch(/Account information:\s*\n\s*ACL information:/);
      }
    }
    for (const id of srv) expect((await c.api('DELETE', `/compute/v2.1/servers/${id}`)).status).toBe(204);
    await until(
      'volumes available',
      async () => (await Promise.all(vols.map(volume))).every((v) => v.status === 'available'),
      120_000,
      500,
    );
    for (const id of vols) expect((await c.api('DELETE', `/volume/v3/${c.projectId}/volumes/${id}`)).status).toBe(202);
    const empty = await until(
      'the host to be empty',
      async () => {
        const h = await c.onHost();
        return h.domains.length + h.instanceDirs.length + h.targets.length + h.volumeFiles.length === 0 ? h : null;
      },
      60_000,
      1000,
    );
    expect(empty.domains).toEqual([]);
  }, 600_000);
});

function count(xs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const x of xs) out[x] = (out[x] ?? 0) + 1;
  return out;
}
