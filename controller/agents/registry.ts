import { createHash, timingSafeEqual } from 'node:crypto';
import type { ControllerConfig } from '../../shared/config/controller.js';
import type { HeartbeatBody, RegisterBody } from '../../shared/agent/host.js';
import { Conflict, NotFound, Unauthorized } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
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

type Row = Omit<Host, 'roles' | 'usage' | 'capabilities' | 'enabled'> & {
  roles: string;
  usage: string;
  capabilities: string;
  enabled: number;
  credential_hash: string;
};

const decode = (r: Row): Host => {
  const { credential_hash: _h, ...rest } = r;
  return {
    ...rest,
    roles: JSON.parse(r.roles) as string[],
    usage: JSON.parse(r.usage) as Record<string, unknown>,
    capabilities: JSON.parse(r.capabilities) as Record<string, unknown>,
    enabled: r.enabled === 1,
  };
};

/** sha256 hex of a host secret: what the database stores. */
export const credentialHash = (secret: string): string => createHash('sha256').update(secret.trim(), 'utf8').digest('hex');

export type HostListener = (host: Host) => void;

/**
 * Hosts and their liveness. The credential check, registration and heartbeats arrive
 * through the internal routes; `markStale()` (the agent-health job) turns hosts down
 * after `agents.down_after_missed` missed heartbeats; the next heartbeat or
 * registration turns them up again and fires `onUp` listeners (the dispatcher retries
 * that host's pending operations at once).
 *
 * Secrets: only their sha256 is stored; the plaintext learned from an authenticated
 * agent call is kept in memory (`secretOf`) so the client can call the agent back.
 */
export class HostRegistry {
  private readonly secrets = new Map<string, string>();
  private readonly upListeners: HostListener[] = [];
  private readonly downListeners: HostListener[] = [];

  constructor(
    private readonly db: Db,
    private readonly config: ControllerConfig,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Seconds without a heartbeat after which a host is down. */
  downAfterS(): number {
    return this.config.agents.heartbeat_s * this.config.agents.down_after_missed;
  }

  onUp(fn: HostListener): void {
    this.upListeners.push(fn);
  }
  onDown(fn: HostListener): void {
    this.downListeners.push(fn);
  }

  list(): Host[] {
    return (this.db.prepare('SELECT * FROM hosts ORDER BY name').all() as Row[]).map(decode);
  }

  /** By id or by name; null when absent. */
  find(idOrName: string): Host | null {
    const r = this.db.prepare('SELECT * FROM hosts WHERE id = ? OR name = ?').get(idOrName, idOrName) as Row | undefined;
    return r ? decode(r) : null;
  }

  get(idOrName: string): Host {
    const h = this.find(idOrName);
    if (!h) throw new NotFound(`Host ${idOrName} could not be found.`, 'HostNotFound');
    return h;
  }

  /**
   * Enrols a host: creates the row (state down until the agent registers) or, for an
   * existing name, replaces its credential and URL. Idempotent.
   */
  enrol(o: { name: string; agentUrl: string; secret: string }): Host {
    const ts = this.now().toISOString();
    const hash = credentialHash(o.secret);
    const other = this.db.prepare('SELECT id, name FROM hosts WHERE credential_hash = ? AND name <> ?').get(hash, o.name) as
      | { name: string }
      | undefined;
    if (other) throw new Conflict(`This credential is already enrolled for host ${other.name}.`, 'CredentialInUse');
    this.db
      .prepare(
        `INSERT INTO hosts (id, name, agent_url, credential_hash, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(name) DO UPDATE SET agent_url = excluded.agent_url, credential_hash = excluded.credential_hash, updated_at = excluded.updated_at`,
      )
      .run(newUuid(), o.name, o.agentUrl, hash, ts, ts);
    return this.get(o.name);
  }

  /** Removes a host and (cascade) its operations. */
  remove(idOrName: string): void {
    const h = this.get(idOrName);
    this.db.prepare('DELETE FROM hosts WHERE id = ?').run(h.id);
    this.secrets.delete(h.id);
  }

  /** The host whose enrolled credential is `secret`; Unauthorized otherwise. */
  authenticate(secret: string | undefined): Host {
    if (!secret) throw new Unauthorized('A host credential is required.');
    const hash = credentialHash(secret);
    const r = this.db.prepare('SELECT * FROM hosts WHERE credential_hash = ?').get(hash) as Row | undefined;
    // Constant-time comparison of the stored and presented hashes.
    if (!r || !timingSafeEqual(Buffer.from(r.credential_hash, 'hex'), Buffer.from(hash, 'hex'))) {
      throw new Unauthorized('The host credential is not enrolled.');
    }
    this.secrets.set(r.id, secret.trim());
    return decode(r);
  }

  /** The plaintext secret of a host, once it has called in since this process started. */
  secretOf(hostId: string): string | undefined {
    return this.secrets.get(hostId);
  }

  /** For tests and the aio: the controller already holds the secret. */
  rememberSecret(hostId: string, secret: string): void {
    this.secrets.set(hostId, secret.trim());
  }

  /** Forget a secret the agent rejected; the next heartbeat brings the right one. */
  forgetSecret(hostId: string): void {
    this.secrets.delete(hostId);
  }

  /** Registration from an authenticated agent: records what it reported; marks it up. */
  register(secret: string | undefined, b: RegisterBody): Host {
    const h = this.authenticate(secret);
    const clash = this.db.prepare('SELECT id FROM hosts WHERE name = ? AND id <> ?').get(b.hostname, h.id);
    if (clash) throw new Conflict(`Another host is already named ${b.hostname}.`, 'HostNameInUse');
    const ts = this.now().toISOString();
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
        ts,
        ts,
        ts,
        h.id,
      );
    const after = this.get(h.id);
    // A registration always means a (re)started agent: listeners retry pending work.
    for (const fn of this.upListeners) fn(after);
    return after;
  }

  /**
   * Heartbeat from an authenticated agent. NotFound when the host never registered
   * (the agent then registers). Marks a down host up.
   */
  heartbeat(secret: string | undefined, b: HeartbeatBody): Host {
    const known = this.secrets.size > 0 && [...this.secrets.values()].includes((secret ?? '').trim());
    const h = this.authenticate(secret);
    if (!h.registered_at) throw new NotFound(`Host ${h.name} has not registered.`, 'HostNotRegistered');
    const ts = this.now().toISOString();
    this.db
      .prepare(`UPDATE hosts SET usage = ?, api_version = ?, state = 'up', last_heartbeat_at = ?, updated_at = ? WHERE id = ?`)
      .run(JSON.stringify(b.usage), b.api_version, ts, ts, h.id);
    const after = this.get(h.id);
    // Up again, or first heard of since this controller started (it can call the agent
    // back only now): listeners retry that host's pending work at once.
    if (h.state !== 'up' || !known) for (const fn of this.upListeners) fn(after);
    return after;
  }

  /**
   * Marks down every up host whose last heartbeat is older than heartbeat_s ×
   * down_after_missed. Returns the hosts it changed.
   */
  markStale(): Host[] {
    const cutoff = new Date(this.now().getTime() - this.downAfterS() * 1000).toISOString();
    const stale = (
      this.db
        .prepare(`SELECT * FROM hosts WHERE state = 'up' AND (last_heartbeat_at IS NULL OR last_heartbeat_at < ?)`)
        .all(cutoff) as Row[]
    ).map(decode);
    const ts = this.now().toISOString();
    const upd = this.db.prepare(`UPDATE hosts SET state = 'down', updated_at = ? WHERE id = ? AND state = 'up'`);
    for (const h of stale) {
      upd.run(ts, h.id);
      const after = { ...h, state: 'down' as const, updated_at: ts };
      for (const fn of this.downListeners) fn(after);
    }
    return stale;
  }

  /** Enable or disable scheduling onto a host (the hosts issue adds the API). */
  setEnabled(idOrName: string, enabled: boolean, reason: string | null = null): Host {
    const h = this.get(idOrName);
    this.db
      .prepare('UPDATE hosts SET enabled = ?, disabled_reason = ?, updated_at = ? WHERE id = ?')
      .run(enabled ? 1 : 0, enabled ? null : reason, this.now().toISOString(), h.id);
    return this.get(h.id);
  }
}
