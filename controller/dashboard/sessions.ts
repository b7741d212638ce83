import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { SessionView } from './page.js';

/**
 * Dashboard sessions, in memory, keyed by the SHA-256 of the cookie's random id. The
 * Keystone token lives only here (never in a cookie, a URL or a page). In memory rather
 * than in SQLite on purpose: a session is no longer than its token (an hour by default)
 * and a bearer token at rest would be one more secret in the database and in backups;
 * a controller restart signs everyone out, which is the safe failure.
 */
export interface Session extends SessionView {
  token: string;
  /**
   * The unscoped sign-in token the project-scoped ones are derived from (token method):
   * revoking it at sign-out revokes every token of the session (audit chain).
   */
  rootToken: string;
  expiresAt: number;
  /** Per-session CSRF secret, posted back as `_csrf` or `x-csrf-token`. */
  csrf: string;
  flash?: { kind: 'ok' | 'error'; text: string };
}

const hash = (sid: string): string => createHash('sha256').update(sid).digest('hex');

export class SessionStore {
  private readonly byHash = new Map<string, Session>();

  constructor(
    private readonly now: () => number = Date.now,
    private readonly max = 10_000,
  ) {}

  /** Stores a session and returns the cookie value (the only copy of the id). */
  create(s: Omit<Session, 'csrf'>): { sid: string; session: Session } {
    this.sweep();
    if (this.byHash.size >= this.max) {
      const oldest = this.byHash.keys().next().value;
      if (oldest !== undefined) this.byHash.delete(oldest);
    }
    const sid = randomBytes(32).toString('base64url');
    const session: Session = { ...s, csrf: randomBytes(24).toString('base64url') };
    this.byHash.set(hash(sid), session);
    return { sid, session };
  }

  get(sid: string | undefined): Session | null {
    if (!sid || sid.length > 200) return null;
    const h = hash(sid);
    const s = this.byHash.get(h);
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.byHash.delete(h);
      return null;
    }
    return s;
  }

  /** Replaces the session's token and scope (project switch) under the same id. */
  replace(sid: string, next: Omit<Session, 'csrf'>): Session | null {
    const h = hash(sid);
    const cur = this.byHash.get(h);
    if (!cur) return null;
    const s: Session = { ...next, csrf: cur.csrf };
    this.byHash.set(h, s);
    return s;
  }

  delete(sid: string | undefined): void {
    if (sid) this.byHash.delete(hash(sid));
  }

  get size(): number {
    return this.byHash.size;
  }

  private sweep(): void {
    const t = this.now();
    for (const [h, s] of this.byHash) if (s.expiresAt <= t) this.byHash.delete(h);
  }
}

/** Constant-time comparison of a posted CSRF value with the session's. */
export function csrfMatches(session: Session, posted: unknown): boolean {
  if (typeof posted !== 'string' || posted.length !== session.csrf.length) return false;
  return timingSafeEqual(Buffer.from(posted), Buffer.from(session.csrf));
}
