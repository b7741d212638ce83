import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InlineHasher, WorkerHasher } from './hasher.js';

describe('block hashers', () => {
  it('WorkerHasher hashes shared blocks in order, several in flight, and the blocks are reusable after', async () => {
    const data = randomBytes(5 * 1024 * 1024 + 333);
    const h = new WorkerHasher('md5');
    const blocks = [0, 1, 2].map(() => Buffer.from(new SharedArrayBuffer(256 * 1024)));
    const busy: Array<Promise<void> | undefined> = [undefined, undefined, undefined];
    let k = 0;
    for (let off = 0; off < data.length; k = (k + 1) % 3) {
      await busy[k];
      const n = Math.min(1 + Math.floor(Math.random() * blocks[k]!.length), data.length - off);
      data.copy(blocks[k]!, 0, off, off + n);
      busy[k] = h.update(blocks[k]!.subarray(0, n));
      off += n;
    }
    await Promise.all(busy);
    expect(await h.digest()).toBe(createHash('md5').update(data).digest('hex'));
  });

  it('hashes empty input and inline input alike, and refuses unshared blocks on a worker', async () => {
    expect(await new WorkerHasher('sha512').digest()).toBe(createHash('sha512').digest('hex'));
    const i = new InlineHasher('md5');
    i.update(Buffer.from('abc'));
    expect(await i.digest()).toBe(createHash('md5').update('abc').digest('hex'));
    const w = new WorkerHasher('md5');
    expect(() => w.update(Buffer.from('abc'))).toThrow(/SharedArrayBuffer/);
    w.close();
  });
});
