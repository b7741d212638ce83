import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BLOCK, receive } from './receive.js';
import type { StagedImage, StagingWriter } from './store.js';

/** A staging writer that keeps copies of what it was given (blocks are reused after write resolves). */
function memoryWriter(o: { delayMs?: number; failAt?: number } = {}) {
  const parts: Buffer[] = [];
  let calls = 0;
  const w: StagingWriter = {
    write: async (block) => {
      const copy = Buffer.from(block);
      if (o.delayMs) await new Promise((r) => setTimeout(r, o.delayMs));
      if (o.failAt !== undefined && calls++ === o.failAt) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' });
      parts.push(copy);
    },
    finish: async () => ({}) as StagedImage,
    abort: async () => {},
  };
  return { w, data: () => Buffer.concat(parts), writes: () => parts.length };
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

const sums = (d: Buffer) => ({ md5: createHash('md5').update(d).digest('hex'), sha512: createHash('sha512').update(d).digest('hex') });
const opts = { limit: Infinity, overLimit: () => new Error('over'), expected: null, parallel: false };

describe('receive', () => {
  for (const parallel of [false, true]) {
    it(`writes every byte in order and hashes it (MD5 ${parallel ? 'on the worker' : 'inline'}), through slow writes`, async () => {
      const data = randomBytes(5 * BLOCK + 12345);
      const m = memoryWriter({ delayMs: 2 });
      const got = await receive(chunked(data), m.w, { ...opts, parallel });
      expect(got.bytes).toBe(data.length);
      expect(got.digests).toEqual(sums(data));
      expect(m.data().equals(data)).toBe(true);
      expect(m.writes()).toBe(6); // whole blocks, then the rest
      expect(got.sniffer.result().format).toBe('raw');
    });
  }

  it('takes a small upload of known size in one block', async () => {
    const data = randomBytes(1000);
    const m = memoryWriter();
    const got = await receive(chunked(data), m.w, { ...opts, expected: 1000 });
    expect(got.digests).toEqual(sums(data));
    expect(m.writes()).toBe(1);
  });

  it('stops with the limit error as soon as one byte too many arrives, after its writes settled', async () => {
    const data = randomBytes(3 * BLOCK);
    let settled = 0;
    const m = memoryWriter({ delayMs: 5 });
    const write = m.w.write;
    m.w.write = async (b) => {
      await write(b);
      settled++;
    };
    const err = await receive(chunked(data), m.w, { ...opts, limit: 2 * BLOCK + 10, overLimit: () => new Error('too large') }).catch((e: Error) => e);
    expect((err as Error).message).toBe('too large');
    expect(settled).toBe(m.writes()); // nothing left in flight
    expect(m.data().length).toBeLessThanOrEqual(2 * BLOCK + 10);
  });

  it('fails with the writer error and stops reading', async () => {
    const data = randomBytes(6 * BLOCK);
    const src = chunked(data);
    const err = await receive(src, memoryWriter({ failAt: 1 }).w, { ...opts, parallel: true }).catch((e: Error) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(src.destroyed).toBe(true);
  });

  it('passes a source error through (an aborted client)', async () => {
    const src = new Readable({ read() {} });
    src.push(randomBytes(BLOCK + 1));
    setTimeout(() => src.destroy(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })), 10);
    const err = await receive(src, memoryWriter().w, opts).catch((e: Error) => e);
    expect((err as NodeJS.ErrnoException).code).toBe('ECONNRESET');
  });
});
