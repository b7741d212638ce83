import type { FastifyInstance } from 'fastify';
import { Gauge, Registry } from 'prom-client';
import type { DomStats } from '../../shared/tools/virsh.js';
import { scrape } from '../../shared/util/process-metrics.js';

/**
 * GET /metrics on an agent: Prometheus text from sources the roles provide, read at
 * scrape time. The route sits behind the agent's bearer-credential hook like every
 * other agent route (the controller, or a scraper given the host credential).
 */
export interface AgentMetricSources {
  /** Compute role: counters per libvirt domain (virsh domstats). */
  instances?: () => Promise<DomStats[]>;
  /** Network role: VXLAN tunnels and OVS ports this host has. */
  network?: () => Promise<{ tunnels: number; ports: number }>;
  /** Volume role: free bytes in the back-end (VG or file directory). */
  volumeFreeBytes?: () => Promise<number>;
}

const INSTANCE_FIELDS: [keyof Omit<DomStats, 'name'>, string, string, number][] = [
  ['cpuTimeNs', 'homestack_instance_cpu_seconds_total', 'CPU time used by the instance (cpu.time).', 1e-9],
  ['memoryKiB', 'homestack_instance_memory_bytes', 'Memory given to the instance (balloon.current).', 1024],
  ['rssKiB', 'homestack_instance_memory_rss_bytes', 'Resident memory of the QEMU process (balloon.rss).', 1024],
  ['netRxBytes', 'homestack_instance_network_receive_bytes_total', 'Bytes received on all NICs.', 1],
  ['netTxBytes', 'homestack_instance_network_transmit_bytes_total', 'Bytes transmitted on all NICs.', 1],
  ['blockReadBytes', 'homestack_instance_disk_read_bytes_total', 'Bytes read from all disks.', 1],
  ['blockWriteBytes', 'homestack_instance_disk_write_bytes_total', 'Bytes written to all disks.', 1],
  ['blockAllocationBytes', 'homestack_instance_disk_allocation_bytes', 'Host bytes the disks occupy.', 1],
];

/** The registry and a refresh() that reads every source once; call it before each scrape. */
export function createAgentMetrics(src: AgentMetricSources): { registry: Registry; refresh(): Promise<void> } {
  const registry = new Registry();
  const up = new Gauge({
    name: 'homestack_agent_metric_source_up',
    help: '1 when a metric source answered at the last scrape, 0 when it failed.',
    labelNames: ['source'],
    registers: [registry],
  });
  const guard = async <T>(name: string, f: () => Promise<T>): Promise<T | undefined> => {
    try {
      const v = await f();
      up.set({ source: name }, 1);
      return v;
    } catch {
      up.set({ source: name }, 0);
      return undefined;
    }
  };
  // Only the families of the roles this host has (a compute-only host prints no tunnel count of 0).
  const regs = (on: unknown) => (on ? [registry] : []);
  const inst = INSTANCE_FIELDS.map(([field, name, help, scale]) => ({
    field,
    scale,
    g: new Gauge({ name, help, labelNames: ['domain'], registers: regs(src.instances) }),
  }));
  const tunnels = new Gauge({
    name: 'homestack_network_tunnels',
    help: 'VXLAN tunnels to other hosts.',
    registers: regs(src.network),
  });
  const ports = new Gauge({
    name: 'homestack_network_ports',
    help: "Ports on this host's integration bridge.",
    registers: regs(src.network),
  });
  const free = new Gauge({
    name: 'homestack_volume_backend_free_bytes',
    help: 'Free space in the volume back-end.',
    registers: regs(src.volumeFreeBytes),
  });
  const refresh = async () => {
    // Sources are read concurrently, once per scrape (one virsh call for all domains).
    await Promise.all([
      src.instances &&
        guard('instances', src.instances).then((list) => {
          for (const { g } of inst) g.reset();
          for (const d of list ?? [])
            for (const { field, scale, g } of inst) g.set({ domain: d.name }, (d[field] as number) * scale);
        }),
      src.network &&
        guard('network', src.network).then((n) => {
          if (n) {
            tunnels.set(n.tunnels);
            ports.set(n.ports);
          }
        }),
      src.volumeFreeBytes &&
        guard('volume', src.volumeFreeBytes).then((n) => {
          if (n !== undefined) free.set(n);
        }),
    ]);
  };
  return { registry, refresh };
}

/** Registers GET /metrics on the agent's fastify (behind its credential hook). */
export function installAgentMetrics(fastify: FastifyInstance, src: AgentMetricSources): Registry {
  const m = createAgentMetrics(src);
  fastify.get('/metrics', async (_req, reply) => {
    await m.refresh();
    return reply.type(m.registry.contentType).send(await scrape(m.registry));
  });
  return m.registry;
}
