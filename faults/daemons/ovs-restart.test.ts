import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OvsDriver } from '../../agents/network/ovs.js';
import { NetworkService } from '../../agents/network/service.js';
import { MultiHost, type FakeGuest, type SimHost } from '../../agents/network/testing/harness.js';
import { netTestApp, type NetTestApp } from '../../controller/networks/testing/kit.js';

/**
 * Issue 11, scenario 3 (Open vSwitch half): ovs-vswitchd dies (kill -9) and is started
 * again under a running network agent, on a simulated host's PRIVATE ovsdb-server and
 * ovs-vswitchd (agents/network/testing/harness.ts), never the machine's. OpenFlow flows
 * do not survive ovs-vswitchd, so the guests' network is down until the agent
 * (NetworkService with the default timers: resync every 60 s, DOWN-port check every
 * 1 s, which also notices that br-int lost the agent's flows) re-applies its last
 * desired state. A ping between two guests runs before, across
 * and after the restart; the outage is the longest gap in its sequence numbers.
 */
const why = process.env.SYSTEM_TESTS !== '1' ? 'SYSTEM_TESTS=1 is not set' : MultiHost.unavailable();
if (why) console.log(`[skip] faults/daemons ovs-vswitchd restart: ${why}`);

const INTERVAL_S = 0.2;

describe.skipIf(!!why)('ovs-vswitchd restart under a running network agent (private OVS)', () => {
  const mh = new MultiHost();
  let t: NetTestApp;
  let A: SimHost;
  let d: OvsDriver;
  let svc: NetworkService;
  const g: Record<string, FakeGuest> = {};
  const figures: Record<string, unknown> = {};
  const logs: string[] = [];
  const log = {
    info: (o: object, m?: string) => logs.push(`${m} ${JSON.stringify(o)}`),
    warn: (o: object, m?: string) => logs.push(`WARN ${m}`),
    error: (o: object, m?: string) => logs.push(`ERROR ${m}`),
  };

  beforeAll(async () => {
    await mh.up();
    A = await mh.addHost('A', 1);
    d = new OvsDriver({
      run: A.run,
      hostname: `${mh.prefix}-A`,
      stateDir: join(A.dir, 'data', 'network'),
      tunnelIp: A.tunnelIp,
      datapath: 'auto',
      bridges: { int: 'br-int', tun: 'br-tun', physical: {} },
    });
    await d.init();
    t = await netTestApp();
    t.addHost('A', { tunnelIp: A.tunnelIp });
    const net = (await t.req('POST', '/v2.0/networks', 'admin', { network: { name: `${mh.prefix}-a` } })).body.network.id;
    const sub = (
      await t.req('POST', '/v2.0/subnets', 'admin', {
        subnet: { network_id: net, cidr: '10.253.0.0/24', ip_version: 4, enable_dhcp: false },
      })
    ).body.subnet.id;
    for (const [name, ip] of [
      ['x', '10.253.0.11'],
      ['y', '10.253.0.12'],
    ] as const) {
      const r = await t.req('POST', '/v2.0/ports', 'admin', {
        port: {
          network_id: net,
          fixed_ips: [{ subnet_id: sub, ip_address: ip }],
          device_owner: 'compute:nova',
          device_id: `${mh.prefix}-${name}`,
        },
      });
      expect(r.status, JSON.stringify(r.body)).toBe(201);
      await t.net.facade.bindPort(r.body.port.id, 'A');
      g[name] = await mh.addGuest(A, name, r.body.port.id, r.body.port.mac_address);
      await g[name]!.sh(`ip addr add ${ip}/24 dev eth0`);
    }
    // What the agent does: apply the controller's body, then heal locally on its timers.
    svc = new NetworkService(d, log, { resyncMs: 60_000, pendingMs: 1_000, datapath: 'netdev', tunnelIp: A.tunnelIp });
    const r = await svc.sync(t.net.syncer.desired().get('A')!);
    expect(r.errors).toEqual([]);
    svc.start();
  }, 300_000);

  afterAll(async () => {
    console.log(`[figures] ${JSON.stringify(figures)}`);
    console.log(`[agent log] ${logs.join(' | ')}`);
    await svc?.close().catch(() => undefined);
    await t?.close();
    const problems = await mh.teardown();
    if (problems.length) console.log(`[teardown] ${problems.join('\n')}`);
  }, 300_000);

  it('x pings y before, across and after an ovs-vswitchd kill -9 + start; the agent restores the flows', async () => {
    expect(await g.x!.ping('10.253.0.12', 3)).toBe(true);
    const flowsBefore = (await A.run('ovs-ofctl', ['dump-flows', 'br-int'])).stdout.split('\n').length;
    const count = 30 / INTERVAL_S;
    const ping = g.x!.sh(`busybox ping -c ${count} -i ${INTERVAL_S} -W 1 10.253.0.12`, { timeoutMs: 150_000 });
    await new Promise((r) => setTimeout(r, 5_000));
    const pidFile = join(A.dir, 'run', 'ovs-vswitchd.pid');
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    const tKill = performance.now();
    process.kill(pid, 'SIGKILL');
    await A.run('busybox', ['rm', '-f', '/run/openvswitch/ovs-vswitchd.pid']);
    await A.run('ovs-vswitchd', [
      'unix:/run/openvswitch/db.sock',
      '--pidfile=/run/openvswitch/ovs-vswitchd.pid',
      `--log-file=${join(A.dir, 'ovs-vswitchd.log')}`,
      '--detach',
    ]);
    figures.vswitchd_restart_ms = Math.round(performance.now() - tKill);
    const flowsAfterRestart = (await A.run('ovs-ofctl', ['dump-flows', 'br-int'])).stdout.split('\n').length;
    const out = (await ping).stdout;
    const seqs = [...out.matchAll(/seq=(\d+)/g)].map((m) => Number(m[1]));
    let gap = 0;
    for (let i = 1; i < seqs.length; i++) gap = Math.max(gap, seqs[i]! - seqs[i - 1]! - 1);
    figures.pings = { sent: count, received: seqs.length, longest_gap: gap };
    figures.outage_s = Math.round(gap * INTERVAL_S * 10) / 10;
    figures.flows = {
      before: flowsBefore,
      right_after_restart: flowsAfterRestart,
      after: (await A.run('ovs-ofctl', ['dump-flows', 'br-int'])).stdout.split('\n').length,
    };
    expect(seqs.at(-1)).toBe(count - 1); // the last pings answer: the network came back
    // Before the agent noticed lost flows (its 1 s check) this was up to resync_s (60 s):
    // 53.8 s measured. Now: the restart plus one check plus a sync.
    expect(figures.outage_s).toBeLessThan(10);
  }, 200_000);

  it('state converges: a further sync has nothing to repair and every port is ACTIVE', async () => {
    const r = await svc.sync(t.net.syncer.desired().get('A')!);
    expect(r.errors).toEqual([]);
    expect(r.flows).toEqual({ added: 0, deleted: 0 });
    expect(r.ports.every((p) => p.status === 'ACTIVE')).toBe(true);
    expect(await g.y!.ping('10.253.0.11', 2)).toBe(true);
  });
});
