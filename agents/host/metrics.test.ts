import { describe, expect, it } from 'vitest';
import { parseExposition } from '../../controller/metrics/exposition.js';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { virsh } from '../../shared/tools/virsh.js';
import { buildAgentApp } from './app.js';
import { installAgentMetrics } from './metrics.js';
import { OpStore } from './op-store.repo.js';

const SECRET = 'agent-test-secret-0123456789';
const DOMSTATS =
  "Domain: 'inst-a'\n  cpu.time=2500000000\n  balloon.current=1024\n  balloon.rss=512\n  net.0.rx.bytes=10\n  net.0.tx.bytes=20\n  block.0.rd.bytes=30\n  block.0.wr.bytes=40\n  block.0.allocation=50\n";

describe('agent /metrics', () => {
  it('needs the host credential and exposes instance, network and volume figures', async () => {
    const a = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
    const f = new FakeRunner().on((c) => c.args.includes('domstats'), { stdout: DOMSTATS });
    const v = virsh(f.run, { uri: 'qemu:///system' });
    installAgentMetrics(a.fastify, {
      instances: () => v.domstats(),
      network: async () => ({ tunnels: 2, ports: 5 }),
      volumeFreeBytes: async () => 1e9,
    });
    expect((await a.fastify.inject({ url: '/metrics' })).statusCode).toBe(401);
    const res = await a.fastify.inject({ url: '/metrics', headers: { authorization: `Bearer ${SECRET}` } });
    expect(res.statusCode).toBe(200);
    const s = parseExposition(res.body);
    expect(s.get('homestack_instance_cpu_seconds_total{domain="inst-a"}')).toBe(2.5);
    expect(s.get('homestack_instance_memory_bytes{domain="inst-a"}')).toBe(1024 * 1024);
    expect(s.get('homestack_instance_network_receive_bytes_total{domain="inst-a"}')).toBe(10);
    expect(s.get('homestack_instance_disk_write_bytes_total{domain="inst-a"}')).toBe(40);
    expect(s.get('homestack_network_tunnels')).toBe(2);
    expect(s.get('homestack_network_ports')).toBe(5);
    expect(s.get('homestack_volume_backend_free_bytes')).toBe(1e9);
    expect(s.get('homestack_agent_metric_source_up{source="instances"}')).toBe(1);
    expect(f.calls.filter((c) => c.args.includes('domstats'))).toHaveLength(1);
    expect(s.get('process_resident_memory_bytes')).toBeGreaterThan(10 * 1024 * 1024);
    expect(s.get('nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    await a.fastify.close();
  });

  it('reports a failing source as down instead of failing the scrape', async () => {
    const a = buildAgentApp({ secret: SECRET, opStore: new OpStore(':memory:'), logger: false });
    installAgentMetrics(a.fastify, {
      instances: async () => {
        throw new Error('libvirt down');
      },
    });
    const res = await a.fastify.inject({ url: '/metrics', headers: { authorization: `Bearer ${SECRET}` } });
    expect(res.statusCode).toBe(200);
    const s = parseExposition(res.body);
    expect(s.get('homestack_agent_metric_source_up{source="instances"}')).toBe(0);
    expect(res.body).not.toContain('homestack_network_tunnels');
    await a.fastify.close();
  });
});
