import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { receive } from './receive.js';
import type { StagedImage, StagingWriter } from './store.js';

/** A staging writer in memory that asks the caller to wait every few chunks, like a busy disk. */
function memoryWriter(o: { delayMs?: number; failAt?: number } = {}) {
  const parts: Buffer[] = [];
  let calls = 0;
  let waits = 0;
  const w: StagingWriter = {
    write: (chunk) => {
      if (o.failAt !== undefined && calls === o.failAt)
        return Promise.reject(Object.assign(new Error('disk full'), { code: 'ENOSPC' }));
      calls++;
      parts.push(chunk);
      if (o.delayMs && calls % 4 === 0) {
        waits++;
        return new Promise((r) => setTimeout(r, o.delayMs));
      }
      return undefined;
    },
    finish: async () => ({}) as StagedImage,
    abort: async () => {},
  };
  return { w, data: () => Buffer.concat(parts), waits: () => waits };
}

/** `data` in chunks of random sizes up to 100 KiB, as a socket would hand them over. */
function chunked(data: Buffer): Readable {
  const chunks: Buffer[] = [];
  for (let off = 0; off < data.length; ) {
    const n = Math.min(1 + Math.floor(Math.random() * 100_000), data.length - off);
    chunks.push(data.subarray(off, off + n));
    off += n;
  }
  return Readable.from(chunks, { objectMode: false });
}

const sums = (d: Buffer) => ({
  md5: createHash('md5').update(d).digest('hex'),
  sha512: createHash('sha512').update(d).digest('hex'),
});
const opts = { limit: Infinity, overLimit: () => new Error('over'), expected: null, parallel: false };

describe('receive', () => {
  for (const parallel of [false, true]) {
    it(`writes every byte in order and hashes it (SHA-512 ${parallel ? 'on the worker' : 'inline'}), waiting when the writer asks`, async () => {
      const data = randomBytes((5 << 20) + 12345);
      const m = memoryWriter({ delayMs: 2 });
      const got = await receive(chunked(data), m.w, { ...opts, parallel });
      expect(got.bytes).toBe(data.length);
      expect(got.digests).toEqual(sums(data));
      expect(m.data().equals(data)).toBe(true);
      expect(m.waits()).toBeGreaterThan(0);
      expect(got.sniffer.result().format).toBe('raw');
    });
  }

  it('stops with the limit error as soon as one byte too many arrives, before writing it', async () => {
    const data = randomBytes(3 << 20);
    const m = memoryWriter();
    const err = await receive(chunked(data), m.w, {
      ...opts,
      limit: (2 << 20) + 10,
      overLimit: () => new Error('too large'),
    }).catch((e: Error) => e);
    expect((err as Error).message).toBe('too large');
    expect(m.data().length).toBeLessThanOrEqual((2 << 20) + 10);
  });

  it('fails with the writer error and stops reading', async () => {
    const src = chunked(randomBytes(6 << 20));
    const err = await receive(src, memoryWriter({ failAt: 3 }).w, { ...opts, parallel: true }).catch((e: Error) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(src.destroyed).toBe(true);
  });

  it('passes a source error through (an aborted client)', async () => {
    const src = new Readable({ read() {} });
    src.push(randomBytes((1 << 20) + 1));
    setTimeout(() => src.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })), 10);
    const err = await receive(src, memoryWriter().w, opts).catch((e: Error) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });
});
