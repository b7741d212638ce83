import { createHash, timingSafeEqual } from 'node:crypto';
import type { ControllerConfig } from '../../shared/config/controller.js';
import type { HeartbeatBody, RegisterBody } from '../../shared/agent/host.js';
import { Conflict, NotFound, Unauthorized } from '../../shared/errors/index.js';
import { newUuid } from '../../shared/util/ids.js';
import type { Db } from '../db/open.js';
import { HostsRepo, type Host } from './hosts.repo.js';

export type { Host } from './hosts.repo.js';

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

  private readonly repo: HostsRepo;

  constructor(
    private readonly db: Db,
    private readonly config: ControllerConfig,
    private readonly now: () => Date = () => new Date(),
  ) {
    this.repo = new HostsRepo(db);
  }

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
    return this.repo.list();
  }

  /** By id or by name; null when absent. */
  find(idOrName: string): Host | null {
    return this.repo.find(idOrName);
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
    const other = this.repo.otherWithCredential(hash, o.name);
    if (other) throw new Conflict(`This credential is already enrolled for host ${other}.`, 'CredentialInUse');
    this.repo.upsertEnrolment({ id: newUuid(), name: o.name, agentUrl: o.agentUrl, hash, now: ts });
    return this.get(o.name);
  }

  /** Removes a host and (cascade) its operations. */
  remove(idOrName: string): void {
    const h = this.get(idOrName);
    this.repo.delete(h.id);
    this.secrets.delete(h.id);
  }

  /** The host whose enrolled credential is `secret`; Unauthorized otherwise. */
  authenticate(secret: string | undefined): Host {
    if (!secret) throw new Unauthorized('A host credential is required.');
    const hash = credentialHash(secret);
    const r = this.repo.byCredential(hash);
    // Constant-time comparison of the stored and presented hashes.
    if (!r || !timingSafeEqual(Buffer.from(r.hash, 'hex'), Buffer.from(hash, 'hex'))) {
      throw new Unauthorized('The host credential is not enrolled.');
    }
    this.secrets.set(r.host.id, secret.trim());
    return r.host;
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
    if (this.repo.nameTaken(b.hostname, h.id))
      throw new Conflict(`Another host is already named ${b.hostname}.`, 'HostNameInUse');
    const ts = this.now().toISOString();
    this.repo.saveRegistration(h.id, b, ts);
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
    this.repo.saveHeartbeat(h.id, b, ts);
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
    const stale = this.repo.staleUp(cutoff);
    const ts = this.now().toISOString();
    for (const h of stale) {
      this.repo.markDown(h.id, ts);
      const after = { ...h, state: 'down' as const, updated_at: ts };
      for (const fn of this.downListeners) fn(after);
    }
    return stale;
  }

  /** Enable or disable scheduling onto a host (the hosts issue adds the API). */
  setEnabled(idOrName: string, enabled: boolean, reason: string | null = null): Host {
    const h = this.get(idOrName);
    this.repo.setEnabled(h.id, enabled, reason, this.now().toISOString());
    return this.get(h.id);
  }
}
