import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';

/**
 * The token key repository, as Keystone's Fernet key repository: files named by an
 * integer in <data_dir>/fernet-keys. `0` is the staged key (already accepted, so
 * every process knows it before it becomes primary), the highest number is the
 * primary key (used to encrypt), the rest are secondary keys (still accepted).
 * Rotation promotes the staged key to primary, stages a new key and drops the oldest
 * secondaries beyond `maxActive`.
 */
export interface TokenKey {
  /** 4-byte id carried in tokens so validation picks the key without trying each. */
  id: Buffer;
  key: Buffer;
  index: number;
}

export interface KeySet {
  primary: TokenKey;
  byId: Map<string, TokenKey>;
}

const KEY_BYTES = 32;

function keyFileIndexes(dir: string): number[] {
  return readdirSync(dir)
    .filter((f) => /^\d+$/.test(f))
    .map(Number)
    .sort((a, b) => a - b);
}

function writeKey(dir: string, index: number): void {
  const tmp = join(dir, `.tmp-${index}-${process.pid}`);
  writeFileSync(tmp, randomBytes(KEY_BYTES).toString('base64url') + '\n', { mode: 0o600 });
  renameSync(tmp, join(dir, String(index)));
}

/** Creates the repository with a staged and a primary key unless it has keys. Idempotent. */
export function ensureKeyRepository(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  const idx = keyFileIndexes(dir);
  if (!idx.includes(0)) writeKey(dir, 0);
  if (!idx.some((i) => i > 0)) writeKey(dir, 1);
}

/**
 * Promotes the staged key to primary, stages a new one and keeps at most `maxActive`
 * keys (staged + primary + secondaries). Tokens made with a dropped key stop validating.
 * Returns the indexes now present.
 */
export function rotateKeyRepository(dir: string, maxActive: number): number[] {
  ensureKeyRepository(dir);
  const idx = keyFileIndexes(dir);
  const next = Math.max(...idx) + 1;
  renameSync(join(dir, '0'), join(dir, String(next)));
  writeKey(dir, 0);
  const secondaries = keyFileIndexes(dir).filter((i) => i > 0 && i < next);
  const keep = Math.max(0, maxActive - 2);
  for (const i of secondaries.slice(0, Math.max(0, secondaries.length - keep))) unlinkSync(join(dir, String(i)));
  return keyFileIndexes(dir);
}

export function loadKeys(dir: string): KeySet {
  const idx = keyFileIndexes(dir);
  const keys: TokenKey[] = idx.map((index) => {
    const key = Buffer.from(readFileSync(join(dir, String(index)), 'utf8').trim(), 'base64url');
    if (key.length !== KEY_BYTES) throw new Error(`token key ${join(dir, String(index))} is not ${KEY_BYTES} bytes`);
    return { index, key, id: createHash('sha256').update(key).digest().subarray(0, 4) };
  });
  const primary = keys.filter((k) => k.index > 0).pop();
  if (!primary) throw new Error(`token key repository ${dir} has no primary key`);
  return { primary, byId: new Map(keys.map((k) => [k.id.toString('hex'), k])) };
}

/**
 * The keys of a repository, re-read when the directory changes (a rotation by the
 * CLI in another process), checked at most once a second. Created on first use.
 */
export class KeyRepository {
  private set: KeySet | null = null;
  private mtimeMs = -1;
  private checkedAt = 0;

  constructor(readonly dir: string) {}

  keys(now = Date.now()): KeySet {
    if (this.set && now - this.checkedAt < 1000) return this.set;
    this.checkedAt = now;
    let m = -1;
    if (existsSync(this.dir)) m = statSync(this.dir).mtimeMs;
    if (!this.set || m !== this.mtimeMs) {
      if (m < 0 || !keyFileIndexes(this.dir).some((i) => i > 0)) ensureKeyRepository(this.dir);
      this.set = loadKeys(this.dir);
      this.mtimeMs = statSync(this.dir).mtimeMs;
    }
    return this.set;
  }
}
