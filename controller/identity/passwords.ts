import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password and secret hashing: scrypt (memory-hard) with a per-hash random salt, run
 * asynchronously on libuv's thread pool so the event loop keeps serving. Stored as
 * `scrypt$N$r$p$<salt b64>$<hash b64>` so the cost can be raised later without
 * invalidating older hashes.
 */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}

/** OWASP's recommendation for scrypt (2^15, 8, 1): about 32 MiB and tens of ms. */
export const DEFAULT_SCRYPT: ScryptParams = { N: 2 ** 15, r: 8, p: 1 };
const KEYLEN = 32;

function scrypt(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const opts: ScryptOptions = { N: params.N, r: params.r, p: params.p, maxmem: 256 * params.N * params.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scryptCb(password.normalize('NFC'), salt, KEYLEN, opts, (err, key) => (err ? reject(err) : resolve(key))),
  );
}

export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, params);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

function parse(stored: string): { params: ScryptParams; salt: Buffer; key: Buffer } | null {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return null;
  const [N, r, p] = [Number(parts[1]), Number(parts[2]), Number(parts[3])];
  if (![N, r, p].every((x) => Number.isInteger(x) && x > 0)) return null;
  return { params: { N, r, p }, salt: Buffer.from(parts[4]!, 'base64'), key: Buffer.from(parts[5]!, 'base64') };
}

/**
 * True when `password` matches `stored`. With `stored` null (unknown user, user
 * without a password) it still spends the same work on a dummy hash, so the answer
 * takes as long as a real check and is always false.
 */
export async function verifyPassword(password: string, stored: string | null, dummy: string): Promise<boolean> {
  const h = (stored && parse(stored)) || parse(dummy);
  if (!h) return false;
  const key = await scrypt(password, h.salt, h.params);
  const same = key.length === h.key.length && timingSafeEqual(key, h.key);
  return same && stored !== null && parse(stored) !== null;
}

/** True when `stored` was made with other parameters than `params` (rehash it at the next login). */
export function needsRehash(stored: string | null, params: ScryptParams): boolean {
  const h = stored ? parse(stored) : null;
  return !!h && (h.params.N !== params.N || h.params.r !== params.r || h.params.p !== params.p);
}

/** A hash of a random password, used to spend equal time on unknown users. */
export function makeDummyHash(params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  return hashPassword(randomBytes(24).toString('base64'), params);
}

/**
 * At most `max` hashes at once: scrypt runs on libuv's thread pool (4 threads), which
 * file and DNS work of every service share; a login storm must not take all of it.
 */
export class HashLimiter {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(private readonly max = 2) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((resolve) => this.queue.push(resolve));
    this.active++;
    try {
      return await fn();
    } finally {
      this.active--;
      this.queue.shift()?.();
    }
  }
}
