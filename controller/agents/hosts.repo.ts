import type { HeartbeatBody, RegisterBody } from '../../shared/agent/host.js';
import type { Db } from '../db/open.js';

/** One row of `hosts`, with its JSON columns decoded. */
export interface Host {
  id: string;
  name: string;
  agent_url: string;
  roles: string[];
  agent_version: string;
  api_version: number;
  hypervisor_type: string;
  vcpus: number;
  memory_mb: number;
  disk_gb: number;
  tunnel_ip: string;
  usage: Record<string, unknown>;
  capabilities: Record<string, unknown>;
  enabled: boolean;
  disabled_reason: string | null;
  state: 'up' | 'down';
  registered_at: string | null;
  last_heartbeat_at: string | null;
  created_at: string;
  updated_at: string;
}

/** What listSummaries() returns. */
export type HostSummary = Pick<
  Host,
  | 'id'
  | 'name'
  | 'roles'
  | 'tunnel_ip'
  | 'state'
  | 'enabled'
  | 'last_heartbeat_at'
  | 'created_at'
  | 'registered_at'
  | 'capabilities'
>;

export type HostRow = Omit<Host, 'roles' | 'usage' | 'capabilities' | 'enabled'> & {
  roles: string;
  usage: string;
  capabilities: string;
  enabled: number;
  credential_hash: string;
};

const decode = (r: HostRow): Host => {
  const { credential_hash: _h, ...rest } = r;
  return {
    ...rest,
    roles: JSON.parse(r.roles) as string[],
    usage: JSON.parse(r.usage) as Record<string, unknown>,
    capabilities: JSON.parse(r.capabilities) as Record<string, unknown>,
    enabled: r.enabled === 1,
  };
};

/**
 * SQL for the `hosts` table (HostRegistry holds the logic: credentials, liveness,
 * listeners). Credential hashes never leave this module except through `byCredential`.
 */
export class HostsRepo {
  constructor(private readonly db: Db) {}

  list(): Host[] {
    return (this.db.prepare('SELECT * FROM hosts ORDER BY name').all() as HostRow[]).map(decode);
  }

  /** By id or by name. */
  /**
   * Every host without `usage` (the JSON every heartbeat rewrites) and with only the
   * columns networking reads: the desired-state push and port views call this on every
   * port bind, and at 1,000 hosts it is ~5× cheaper than list() (scripts/bench/fleet.ts).
   */
  listSummaries(): HostSummary[] {
    const rows = this.db
      .prepare(
        'SELECT id, name, roles, tunnel_ip, state, enabled, last_heartbeat_at, created_at, registered_at, capabilities FROM hosts ORDER BY name',
      )
      .all() as Array<
      Omit<HostSummary, 'roles' | 'enabled' | 'capabilities'> & { roles: string; enabled: number; capabilities: string }
    >;
    return rows.map((r) => ({
      ...r,
      roles: JSON.parse(r.roles) as string[],
      enabled: r.enabled === 1,
      capabilities: JSON.parse(r.capabilities) as Record<string, unknown>,
    }));
  }

  /** Hosts that registered with `role` (the text match narrows in SQL, the decoded roles decide). */
  listWithRole(role: string): Host[] {
    return (this.db.prepare('SELECT * FROM hosts WHERE roles LIKE ? ORDER BY name').all(`%"${role}"%`) as HostRow[])
      .map(decode)
      .filter((h) => h.roles.includes(role));
  }

  find(idOrName: string): Host | null {
    const r = this.db.prepare('SELECT * FROM hosts WHERE id = ? OR name = ?').get(idOrName, idOrName) as HostRow | undefined;
    return r ? decode(r) : null;
  }

  /** The host enrolled with this credential hash, with the stored hash. */
  byCredential(hash: string): { host: Host; hash: string } | null {
    const r = this.db.prepare('SELECT * FROM hosts WHERE credential_hash = ?').get(hash) as HostRow | undefined;
    return r ? { host: decode(r), hash: r.credential_hash } : null;
  }

  /** The name of another host (not `name`) enrolled with this credential hash. */
  otherWithCredential(hash: string, name: string): string | null {
    const r = this.db.prepare('SELECT id, name FROM hosts WHERE credential_hash = ? AND name <> ?').get(hash, name) as
      | { name: string }
      | undefined;
    return r?.name ?? null;
  }

  /** Creates the host's row, or gives an existing name the new URL and credential. */
  upsertEnrolment(o: { id: string; name: string; agentUrl: string; hash: string; now: string }): void {
    this.db
      .prepare(
        `INSERT INTO hosts (id, name, agent_url, credential_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET agent_url = excluded.agent_url, credential_hash = excluded.credential_hash, updated_at = excluded.updated_at`,
      )
      .run(o.id, o.name, o.agentUrl, o.hash, o.now, o.now);
  }

  /** Deletes the row (its operations go with it: ON DELETE CASCADE). */
  delete(id: string): void {
    this.db.prepare('DELETE FROM hosts WHERE id = ?').run(id);
  }

  /** Another host (not `exceptId`) already has this name. */
  nameTaken(name: string, exceptId: string): boolean {
    return !!this.db.prepare('SELECT id FROM hosts WHERE name = ? AND id <> ?').get(name, exceptId);
  }

  /** What a registering agent reported; the host is up. */
  saveRegistration(id: string, b: RegisterBody, now: string): void {
    this.db
      .prepare(
        `UPDATE hosts SET name = ?, agent_url = ?, roles = ?, agent_version = ?, api_version = ?, hypervisor_type = ?,
         vcpus = ?, memory_mb = ?, disk_gb = ?, tunnel_ip = ?, capabilities = ?, usage = ?,
         state = 'up', registered_at = ?, last_heartbeat_at = ?, updated_at = ? WHERE id = ?`,
      )
      .run(
        b.hostname,
        b.agent_url,
        JSON.stringify(b.roles),
        b.agent_version,
        b.api_version,
        b.hypervisor_type,
        b.vcpus,
        b.memory_mb,
        b.disk_gb,
        b.tunnel_ip,
        JSON.stringify(b.capabilities),
        JSON.stringify(b.usage),
        now,
        now,
        now,
        id,
      );
  }

  /** A heartbeat: usage and API version; the host is up. */
  saveHeartbeat(id: string, b: HeartbeatBody, now: string): void {
    this.db
      .prepare(`UPDATE hosts SET usage = ?, api_version = ?, state = 'up', last_heartbeat_at = ?, updated_at = ? WHERE id = ?`)
      .run(JSON.stringify(b.usage), b.api_version, now, now, id);
  }

  /** Hosts up whose last heartbeat is older than `cutoff` (or missing). */
  staleUp(cutoff: string): Host[] {
    return (
      this.db
        .prepare(`SELECT * FROM hosts WHERE state = 'up' AND (last_heartbeat_at IS NULL OR last_heartbeat_at < ?)`)
        .all(cutoff) as HostRow[]
    ).map(decode);
  }

  /** Up → down (no-op when it is not up). */
  markDown(id: string, now: string): void {
    this.db.prepare(`UPDATE hosts SET state = 'down', updated_at = ? WHERE id = ? AND state = 'up'`).run(now, id);
  }

  setEnabled(id: string, enabled: boolean, reason: string | null, now: string): void {
    this.db
      .prepare('UPDATE hosts SET enabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ?')
      .run(enabled ? 1 : 0, enabled ? null : reason, now, id);
  }

  /** os-services force-down (compute 2.11): the host counts as down for compute until unset. */
  setForcedDown(id: string, forced: boolean, now: string): void {
    this.db.prepare('UPDATE hosts SET forced_down = ?, updated_at = ? WHERE id = ?').run(forced ? 1 : 0, now, id);
  }

  /** How many hosts per state and enabled flag (combinations with none are absent). */
  countByState(): Array<{ state: string; enabled: number; n: number }> {
    return this.db.prepare('SELECT state, enabled, COUNT(*) AS n FROM hosts GROUP BY state, enabled').all() as Array<{
      state: string;
      enabled: number;
      n: number;
    }>;
  }
}
