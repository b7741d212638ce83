import type { Db } from '../db/open.js';

/** A host row as compute reads it, with its integer id (the rowid: Nova's ids below 2.53). */
export interface ComputeHostRow {
  num: number;
  id: string;
  name: string;
  roles: string;
  state: string;
  enabled: number;
  disabled_reason: string | null;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
  hypervisor_type: string;
  agent_version: string;
  tunnel_ip: string;
  agent_url: string;
  capabilities: string;
  last_heartbeat_at: string | null;
  updated_at: string;
  /** 2.11: an operator marked the compute service down. */
  forced_down: number;
}

/**
 * SQL for compute's view of the `hosts` table (the agent registry owns the rows and
 * their writes: controller/agents/hosts.repo.ts).
 */
export class ComputeHostsRepo {
  constructor(private readonly db: Db) {}

  /** Every host, in registration order. */
  all(): ComputeHostRow[] {
    return this.db.prepare('SELECT rowid AS num, * FROM hosts ORDER BY rowid').all() as ComputeHostRow[];
  }

  get(id: string): ComputeHostRow | undefined {
    return this.db.prepare('SELECT rowid AS num, * FROM hosts WHERE id = ?').get(id) as ComputeHostRow | undefined;
  }

  byName(name: string): ComputeHostRow | undefined {
    return this.db.prepare('SELECT rowid AS num, * FROM hosts WHERE name = ?').get(name) as ComputeHostRow | undefined;
  }
}

/**
 * The iSCSI initiator name of a compute host: what its agent reports in
 * capabilities.roles.compute.initiator, else iqn.2005-03.org.homestack:<host>.
 */
export function initiatorOf(hosts: ComputeHostsRepo, hostId: string): string {
  const r = hosts.get(hostId);
  try {
    const c = JSON.parse(r?.capabilities ?? '{}') as { roles?: { compute?: { initiator?: unknown } } };
    if (typeof c.roles?.compute?.initiator === 'string' && c.roles.compute.initiator) return c.roles.compute.initiator;
  } catch {
    /* fall through */
  }
  return `iqn.2005-03.org.homestack:${(r?.name ?? hostId).toLowerCase()}`;
}
