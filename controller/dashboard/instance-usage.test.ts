import { describe, expect, it } from 'vitest';
import { usageFromMetrics } from './instance-usage.js';

const U = '6f1c1f7e-8a35-4c55-9a8e-0b1d2c3e4f50';
const TEXT = `# HELP homestack_instance_cpu_seconds_total CPU time used by the instance (cpu.time).
# TYPE homestack_instance_cpu_seconds_total gauge
homestack_instance_cpu_seconds_total{domain="instance-${U}"} 12.5
homestack_instance_cpu_seconds_total{domain="instance-00000000-0000-0000-0000-000000000000"} 99
homestack_instance_memory_bytes{domain="instance-${U}"} 201326592
homestack_instance_network_receive_bytes_total{domain="instance-${U}"} 1234
homestack_instance_disk_write_bytes_total{domain="instance-${U}"} 4096
homestack_agent_metric_source_up{source="instances"} 1
`;

describe('instance usage from the agent metrics', () => {
  it('picks the instance series only', () => {
    expect(usageFromMetrics(TEXT, U, 5)).toEqual({
      t: 5,
      cpu_seconds: 12.5,
      memory_bytes: 201326592,
      rss_bytes: 0,
      net_rx_bytes: 1234,
      net_tx_bytes: 0,
      disk_read_bytes: 0,
      disk_write_bytes: 4096,
    });
  });
  it('is null for an instance the host does not report', () => {
    expect(usageFromMetrics(TEXT, '11111111-2222-3333-4444-555555555555')).toBeNull();
  });
});
