import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FileImageStore } from './store.js';

const ID = '00000000-0000-4000-8000-0000000000a1';
let dir: string;
let store: FileImageStore;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tstore-'));
  store = new FileImageStore(join(dir, 'images'));
  await store.init();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));
const staging = () => readdirSync(join(dir, 'images', '.staging'));

describe('FileImageStore staging and block reads', () => {
  it('writes chunks with backpressure, syncs, commits under the key, and reads ranges back', async () => {
    const w = await store.createStaging(ID);
    const parts: Buffer[] = [];
    for (let i = 0; i < 40; i++) {
      const c = Buffer.alloc(100_000, i);
      parts.push(c);
      await w.write(c); // undefined or a promise when the stream wants the caller to wait
    }
    const data = Buffer.concat(parts);
    const staged = await w.finish();
    expect(staged.bytes).toBe(data.length);
    expect(staging()).toHaveLength(1);
    expect(await staged.commit()).toBe(ID);
    expect(staging()).toEqual([]);
    await staged.abort(); // after commit: nothing to drop, the data stays
    expect(await store.size(ID)).toBe(data.length);
    const r = await store.openReader(ID);
    expect(r.size).toBe(data.length);
    const buf = Buffer.alloc(1000);
    expect(await r.read(buf, 1000, data.length - 500)).toBe(500); // short at the end
    expect(buf.subarray(0, 500).equals(data.subarray(data.length - 500))).toBe(true);
    expect(await r.read(buf, 1000, data.length)).toBe(0);
    await r.close();
    await r.close();
  });

  it('abort drops the partial file, before or after finish, and again without harm', async () => {
    const w = await store.createStaging(ID);
    w.write(Buffer.alloc(3 << 20, 1));
    await w.abort();
    await w.abort();
    expect(staging()).toEqual([]);
    const w2 = await store.createStaging(ID);
    w2.write(Buffer.from('abc'));
    const staged = await w2.finish();
    await staged.abort();
    expect(staging()).toEqual([]);
    expect(await store.size(ID)).toBeNull();
  });

  it('refuses keys that are not image ids', async () => {
    await expect(store.openReader('../etc/passwd')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(store.createStaging('x/../../y')).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
