import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema, type AgentConfig } from '../../shared/config/agent.js';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { createAgentMetrics } from './metrics.js';
import { metricSourcesFor } from './metrics-sources.js';
import { parseExposition } from '../../controller/metrics/exposition.js';

const IFACES = readFileSync(new URL('../network/testdata/ovs-vsctl-list-interface.json', import.meta.url), 'utf8');

describe('metric sources per role', () => {
  it('reads virsh domstats, OVS interfaces and the file back-end through the tool wrappers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-metrics-'));
    try {
      const config = Value.Default(AgentConfigSchema, {
        data_dir: dir,
        volume: { backend: 'file', file_dir: dir },
      }) as AgentConfig;
      const f = new FakeRunner()
        .on((c) => c.args.includes('domstats'), { stdout: "Domain: 'i1'\n  cpu.time=1000000000\n" })
        .on((c) => c.args.includes('Interface'), { stdout: IFACES });
      const m = createAgentMetrics(metricSourcesFor(config, f.run, ['compute', 'network', 'volume']));
      await m.refresh();
      const s = parseExposition(await m.registry.metrics());
      expect(s.get('homestack_instance_cpu_seconds_total{domain="i1"}')).toBe(1);
      expect(s.get('homestack_agent_metric_source_up{source="network"}')).toBe(1);
      expect(s.get('homestack_network_tunnels')).toBe(1); // the fixture's one vxlan interface
      expect(s.get('homestack_volume_backend_free_bytes')).toBeGreaterThan(0);
      expect(f.calls.find((c) => c.args.includes('domstats'))!.args.slice(0, 2)).toEqual(['-c', config.compute.libvirt_uri]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('gives a host only the sources of its roles', () => {
    const config = Value.Default(AgentConfigSchema, {}) as AgentConfig;
    expect(Object.keys(metricSourcesFor(config, new FakeRunner().run, ['compute']))).toEqual(['instances']);
  });
});
