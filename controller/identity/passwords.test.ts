import { describe, expect, it } from 'vitest';
import { HashLimiter, hashPassword, makeDummyHash, needsRehash, verifyPassword } from './passwords.js';

const weak = { N: 1024, r: 8, p: 1 };

describe('passwords', () => {
  it('hashes with a per-hash salt and verifies in constant form', async () => {
    const a = await hashPassword('pw', weak);
    const b = await hashPassword('pw', weak);
    expect(a).toMatch(/^scrypt\$1024\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(a).not.toBe(b);
    const dummy = await makeDummyHash(weak);
    expect(await verifyPassword('pw', a, dummy)).toBe(true);
    expect(await verifyPassword('px', a, dummy)).toBe(false);
    expect(await verifyPassword('pw', null, dummy)).toBe(false);
    expect(await verifyPassword('pw', 'garbage', dummy)).toBe(false);
    expect(needsRehash(a, weak)).toBe(false);
    expect(needsRehash(a, { ...weak, N: 2048 })).toBe(true);
    expect(needsRehash(null, weak)).toBe(false);
  });

  it('uses the recommended strength by default', async () => {
    const h = await hashPassword('pw');
    expect(h.startsWith('scrypt$32768$8$1$')).toBe(true);
  });

  it('limits how many hashes run at once', async () => {
    const l = new HashLimiter(2);
    let active = 0;
    let peak = 0;
    const job = () =>
      l.run(async () => {
        active++;
        peak = Math.max(peak, active);
        await new Promise((r) => setTimeout(r, 5));
        active--;
        return 1;
      });
    const results = await Promise.all(Array.from({ length: 7 }, job));
    expect(results).toEqual([1, 1, 1, 1, 1, 1, 1]);
    expect(peak).toBe(2);
    await expect(
      l.run(async () => {
        throw new Error('x');
      }),
    ).rejects.toThrow('x');
    expect(await job()).toBe(1); // a failure releases its slot
  });
});
