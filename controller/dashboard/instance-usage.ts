import type { Db } from '../db/open.js';
import type { AgentLayer } from '../agents/index.js';
import { ServersRepo } from '../compute/servers.repo.js';

/** One sample of an instance's counters, from its host agent's /metrics (the same data Prometheus scrapes). */
export interface UsageSample {
  t: number;
  cpu_seconds: number;
  memory_bytes: number;
  rss_bytes: number;
  net_rx_bytes: number;
  net_tx_bytes: number;
  disk_read_bytes: number;
  disk_write_bytes: number;
}

const FIELDS: Record<string, keyof Omit<UsageSample, 't'>> = {
  homestack_instance_cpu_seconds_total: 'cpu_seconds',
  homestack_instance_memory_bytes: 'memory_bytes',
  homestack_instance_memory_rss_bytes: 'rss_bytes',
  homestack_instance_network_receive_bytes_total: 'net_rx_bytes',
  homestack_instance_network_transmit_bytes_total: 'net_tx_bytes',
  homestack_instance_disk_read_bytes_total: 'disk_read_bytes',
  homestack_instance_disk_write_bytes_total: 'disk_write_bytes',
};

/** The instance's series in Prometheus text (label domain="instance-<uuid>"), or null when absent. */
export function usageFromMetrics(text: string, uuid: string, t = Date.now()): UsageSample | null {
  const want = `domain="instance-${uuid}"`;
  const out: UsageSample = {
    t,
    cpu_seconds: 0,
    memory_bytes: 0,
    rss_bytes: 0,
    net_rx_bytes: 0,
    net_tx_bytes: 0,
    disk_read_bytes: 0,
    disk_write_bytes: 0,
  };
  let seen = false;
  for (const line of text.split('\n')) {
    if (!line.startsWith('homestack_instance_') || !line.includes(want)) continue;
    const name = line.slice(0, line.indexOf('{'));
    const field = FIELDS[name];
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (field && Number.isFinite(v)) {
      out[field] = v;
      seen = true;
    }
  }
  return seen ? out : null;
}

/** Reads the instance's counters from the agent of the host it runs on. */
export async function instanceUsage(db: Db, agents: AgentLayer, uuid: string): Promise<UsageSample | null> {
  const row = new ServersRepo(db).get(uuid, true);
  if (!row?.host_id) return null;
  const text = (await agents.agents
    .forHost(row.host_id)
    .send('GET', '/metrics', undefined, { text: true, timeoutMs: 10_000 })) as string;
  return usageFromMetrics(text, uuid);
}
