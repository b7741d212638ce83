import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InlineHasher, ParallelHasher } from './hasher.js';

describe('stream hashers', () => {
  it('ParallelHasher matches MD5 and SHA-512 across slot boundaries and backpressure', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 333);
    const h = new ParallelHasher(64 * 1024, 3);
    for (let off = 0; off < data.length; ) {
      const n = Math.min(1 + Math.floor(Math.random() * 200_000), data.length - off);
      const chunk = Buffer.from(data.subarray(off, off + n));
      await h.update(chunk);
      chunk.fill(0); // the caller may reuse its chunk once update is done
      off += n;
    }
    expect(await h.digest()).toEqual({
      md5: createHash('md5').update(data).digest('hex'),
      sha512: createHash('sha512').update(data).digest('hex'),
    });
  });

  it('hashes empty input and inline input alike', async () => {
    const empty = { md5: createHash('md5').digest('hex'), sha512: createHash('sha512').digest('hex') };
    expect(await new ParallelHasher().digest()).toEqual(empty);
    const i = new InlineHasher();
    i.update(Buffer.from('abc'));
    expect((await i.digest()).md5).toBe(createHash('md5').update('abc').digest('hex'));
  });
});
