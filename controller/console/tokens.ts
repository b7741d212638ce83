import { createHash, randomBytes } from 'node:crypto';
import { OverLimit, Unauthorized } from '../../shared/errors/index.js';

/** What a console token opens: one instance's display on one host. */
export interface ConsoleTarget {
  instanceId: string;
  hostId: string;
  projectId: string;
  protocol: 'vnc';
  type: 'novnc';
}

export class ConsoleTokenInvalid extends Unauthorized {
  constructor(why: string) {
    super(`The console token is invalid: ${why}. Ask for a new console URL.`, 'ConsoleTokenInvalid');
  }
}

const hash = (token: string): string => createHash('sha256').update(token, 'utf8').digest('hex');

/**
 * Console tokens (Nova's console_auth_tokens, kept in memory instead of a table).
 *
 * - Random: 32 bytes from the CSPRNG, base64url (43 characters).
 * - Short-lived: `ttlMs` (console.token_ttl_s, 10 min by default).
 * - Single use: `consume` removes the token whatever the outcome, so a URL opens at
 *   most one session and a misused one (wrong instance) is burnt.
 * - Bound to the instance and host it was issued for; the proxy connects to nothing else.
 * - Stored hashed (sha256): the map never holds a usable token.
 *
 * Why memory and not SQLite: the API that issues tokens and the proxy that consumes
 * them are the same process, a token lives minutes, and a controller restart drops
 * every proxied session anyway; losing unused tokens on restart only means asking for
 * a new URL. Nothing to migrate, nothing to expire in the database.
 */
export class ConsoleTokens {
  private readonly byHash = new Map<string, ConsoleTarget & { expiresAt: number }>();
  private readonly now: () => number;
  private readonly maxTokens: number;

  constructor(private readonly o: { ttlMs: number; now?: () => number; maxTokens?: number }) {
    this.now = o.now ?? Date.now;
    this.maxTokens = o.maxTokens ?? 10_000;
  }

  get size(): number {
    return this.byHash.size;
  }

  /** A new token for `target`; its expiry. OverLimit when too many are outstanding. */
  issue(target: ConsoleTarget): { token: string; expiresAt: Date } {
    this.sweep();
    if (this.byHash.size >= this.maxTokens)
      throw new OverLimit('Too many console URLs are outstanding; try again in a few minutes.');
    const token = randomBytes(32).toString('base64url');
    const expiresAt = this.now() + this.o.ttlMs;
    this.byHash.set(hash(token), { ...target, expiresAt });
    return { token, expiresAt: new Date(expiresAt) };
  }

  /**
   * Validates and burns a token. With `instanceId`, the token must have been issued
   * for that instance. Throws ConsoleTokenInvalid (401) otherwise.
   */
  consume(token: string | undefined, o: { instanceId?: string } = {}): ConsoleTarget {
    if (!token || token.length > 256) throw new ConsoleTokenInvalid('none was given');
    const key = hash(token);
    const rec = this.byHash.get(key);
    this.byHash.delete(key);
    if (!rec) throw new ConsoleTokenInvalid('unknown or already used');
    if (rec.expiresAt <= this.now()) throw new ConsoleTokenInvalid('expired');
    if (o.instanceId !== undefined && o.instanceId !== rec.instanceId) throw new ConsoleTokenInvalid('issued for another server');
    const { expiresAt: _e, ...target } = rec;
    return target;
  }

  /** Forgets every token of an instance (deleted server). */
  revokeInstance(instanceId: string): number {
    let n = 0;
    for (const [k, v] of this.byHash)
      if (v.instanceId === instanceId) {
        this.byHash.delete(k);
        n++;
      }
    return n;
  }

  /** Drops expired tokens. */
  sweep(): void {
    const now = this.now();
    for (const [k, v] of this.byHash) if (v.expiresAt <= now) this.byHash.delete(k);
  }
}
