import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { KeyRepository } from './keys.js';

/**
 * Self-contained tokens (the Fernet idea): the payload is encrypted and authenticated
 * with AES-256-GCM under the primary key of the key repository; any key still in the
 * repository decrypts. Nothing is stored per token.
 *
 * Layout, base64url without padding (safe in URLs and headers):
 *   0x80 version | key id (4) | IV (12) | ciphertext | GCM tag (16)
 * The version and key id are authenticated as additional data.
 */
export type AuthMethod = 'password' | 'token' | 'application_credential';
const METHOD_BITS: Record<AuthMethod, number> = { password: 1, token: 2, application_credential: 4 };

/** Methods in the order tokens carry them (the order of their bits). */
export const normalizeMethods = (m: readonly AuthMethod[]): AuthMethod[] =>
  (Object.keys(METHOD_BITS) as AuthMethod[]).filter((x) => m.includes(x));

export interface TokenPayload {
  userId: string;
  methods: AuthMethod[];
  projectId?: string;
  domainId?: string;
  /** epoch ms */
  issuedAt: number;
  expiresAt: number;
  /** [this token's audit id, the audit id of the token it was rescoped from] */
  auditIds: string[];
  appCredId?: string;
}

interface Wire {
  u: string;
  m: number;
  p?: string;
  d?: string;
  i: number;
  e: number;
  a: string[];
  c?: string;
}

const VERSION = 0x80;
const HEADER = 1 + 4;
const IV = 12;
const TAG = 16;

/** Keystone's audit ids: 16 random bytes, url-safe base64 (22 characters). */
export const newAuditId = (): string => randomBytes(16).toString('base64url');

export class TokenInvalid extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'TokenInvalid';
  }
}

export class TokenCodec {
  constructor(private readonly repo: KeyRepository) {}

  encode(p: TokenPayload): string {
    const wire: Wire = {
      u: p.userId,
      m: p.methods.reduce((b, m) => b | METHOD_BITS[m], 0),
      i: p.issuedAt,
      e: p.expiresAt,
      a: p.auditIds,
    };
    if (p.projectId) wire.p = p.projectId;
    if (p.domainId) wire.d = p.domainId;
    if (p.appCredId) wire.c = p.appCredId;
    const { primary } = this.repo.keys();
    const header = Buffer.concat([Buffer.from([VERSION]), primary.id]);
    const iv = randomBytes(IV);
    const c = createCipheriv('aes-256-gcm', primary.key, iv);
    c.setAAD(header);
    const body = Buffer.concat([c.update(JSON.stringify(wire), 'utf8'), c.final()]);
    return Buffer.concat([header, iv, body, c.getAuthTag()]).toString('base64url');
  }

  /** Decrypts and checks the shape; throws TokenInvalid. Expiry is checked by the caller. */
  decode(token: string): TokenPayload {
    if (token.length < 40 || token.length > 2048 || !/^[A-Za-z0-9_-]+$/.test(token)) throw new TokenInvalid('malformed');
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < HEADER + IV + TAG + 2 || raw[0] !== VERSION) throw new TokenInvalid('malformed');
    const key = this.repo.keys().byId.get(raw.subarray(1, HEADER).toString('hex'));
    if (!key) throw new TokenInvalid('unknown key');
    let text: string;
    try {
      const d = createDecipheriv('aes-256-gcm', key.key, raw.subarray(HEADER, HEADER + IV));
      d.setAAD(raw.subarray(0, HEADER));
      d.setAuthTag(raw.subarray(raw.length - TAG));
      text = Buffer.concat([d.update(raw.subarray(HEADER + IV, raw.length - TAG)), d.final()]).toString('utf8');
    } catch {
      throw new TokenInvalid('not authentic');
    }
    let w: Wire;
    try {
      w = JSON.parse(text) as Wire;
    } catch {
      throw new TokenInvalid('bad payload');
    }
    if (typeof w.u !== 'string' || typeof w.e !== 'number' || typeof w.i !== 'number' || !Array.isArray(w.a)) {
      throw new TokenInvalid('bad payload');
    }
    const methods = (Object.keys(METHOD_BITS) as AuthMethod[]).filter((m) => (w.m & METHOD_BITS[m]) !== 0);
    return {
      userId: w.u,
      methods,
      projectId: w.p,
      domainId: w.d,
      issuedAt: w.i,
      expiresAt: w.e,
      auditIds: w.a,
      appCredId: w.c,
    };
  }
}
