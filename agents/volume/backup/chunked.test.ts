import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { open, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ChunkedDriver, objectPrefix, type BackupRef } from './chunked.js';
import { PosixTarget } from './posix.js';

const KiB = 1024;
const CS = 64 * KiB;
let dir: string;
let target: PosixTarget;
let driver: ChunkedDriver;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-chunked-'));
  target = new PosixTarget({ path: join(dir, 'store') });
  await target.init();
  driver = new ChunkedDriver(target, { compression: 'zstd', level: 3, chunkSize: CS, parallel: 3 });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A volume file: some random chunks, some text, the rest zeros (sparse). */
async function makeVolume(path: string, size: number): Promise<void> {
  await truncate(path, 0).catch(() => {});
  writeFileSync(path, '');
  await truncate(path, size);
  const fh = await open(path, 'r+');
  await fh.write(randomBytes(CS), 0, CS, 0);
  await fh.write(Buffer.from('homestack '.repeat(CS / 10)), 0, CS - (CS % 10), 3 * CS);
  await fh.write(randomBytes(1000), 0, 1000, 7 * CS + 17);
  await fh.close();
}

async function write(path: string, off: number, data: Buffer) {
  const fh = await open(path, 'r+');
  await fh.write(data, 0, data.length, off);
  await fh.close();
}

async function backup(id: string, vol: string, src: string, size: number, parent: BackupRef | null) {
  const createdAt = new Date().toISOString();
  const r = await driver.backup(
    {
      id,
      volumeId: vol,
      name: null,
      description: null,
      createdAt,
      container: target.defaultContainer(id),
      sizeBytes: size,
      parent,
    },
    src,
  );
  return { ref: { id, container: target.defaultContainer(id), service_metadata: r.service_metadata }, ...r };
}

describe('chunked backups on a posix target', () => {
  it('full, then incremental of changed chunks only; restores of both are byte-exact', async () => {
    const size = 16 * CS + 5000; // a short last chunk
    const src = join(dir, 'vol.img');
    await makeVolume(src, size);
    const v1 = readFileSync(src);
    const vol = randomUUID();
    const full = await backup(randomUUID(), vol, src, size, null);
    expect(full.object_count).toBe(3); // chunks 0, 3 and 7: zeros are not stored
    expect(full.ref.container).toMatch(/^[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f-]{36}$/);
    // change chunk 5, the last (short) chunk, and zero chunk 0
    await write(src, 5 * CS + 10, Buffer.from('changed'));
    await write(src, 16 * CS + 4000, Buffer.from('tail'));
    await write(src, 0, Buffer.alloc(CS));
    const v2 = readFileSync(src);
    const inc = await backup(randomUUID(), vol, src, size, full.ref);
    expect(inc.object_count).toBe(2);
    const meta = await driver.readMetadata(inc.ref);
    expect(meta.objects.map((o) => o.index)).toEqual([5, 16]);
    expect(meta.zeros).toEqual([0]);

    const r1 = join(dir, 'r1.img');
    const r2 = join(dir, 'r2.img');
    await truncate(r1, 0).catch(() => writeFileSync(r1, ''));
    writeFileSync(r1, '');
    await truncate(r1, size);
    writeFileSync(r2, '');
    await truncate(r2, size);
    await driver.restore([full.ref], r1, { skipZeros: true });
    await driver.restore([inc.ref, full.ref], r2, { skipZeros: true });
    expect(sha(readFileSync(r1))).toBe(sha(v1));
    expect(sha(readFileSync(r2))).toBe(sha(v2));
    // restoring the full backup over an existing volume writes its zero chunks too
    await driver.restore([full.ref], r2, { skipZeros: false });
    expect(sha(readFileSync(r2))).toBe(sha(v1));
  });

  it('a corrupted chunk is named on restore; a missing object stops the restore before any write', async () => {
    const size = 8 * CS;
    const src = join(dir, 'vol.img');
    await makeVolume(src, size);
    const b = await backup(randomUUID(), randomUUID(), src, size, null);
    const objDir = join(dir, 'store', b.ref.container);
    const obj = readdirSync(objDir).find((n) => n.endsWith('-00004'))!;
    const data = readFileSync(join(objDir, obj));
    data[10] = data[10]! ^ 0xff;
    writeFileSync(join(objDir, obj), data);
    const dst = join(dir, 'r.img');
    writeFileSync(dst, '');
    await truncate(dst, size);
    await expect(driver.restore([b.ref], dst, { skipZeros: true })).rejects.toMatchObject({
      code: 'BackupCorrupt',
      message: expect.stringContaining(`chunk 3 (bytes ${3 * CS}-${4 * CS - 1})`),
    });
    rmSync(join(objDir, obj));
    await expect(driver.restore([b.ref], dst, { skipZeros: true })).rejects.toMatchObject({ code: 'BackupIncomplete' });
  });

  it('an incremental refuses a grown volume; delete removes every object and the empty container', async () => {
    const src = join(dir, 'vol.img');
    await makeVolume(src, 8 * CS);
    const b = await backup(randomUUID(), randomUUID(), src, 8 * CS, null);
    await truncate(src, 9 * CS);
    await expect(backup(randomUUID(), randomUUID(), src, 9 * CS, b.ref)).rejects.toMatchObject({
      code: 'InvalidBackup',
      message: 'Volume size increased since the last backup. Do a full backup.',
    });
    expect(await driver.delete(b.ref)).toBe(b.object_count + 2);
    expect(readdirSync(join(dir, 'store'))).toEqual(['.homestack-backup-target']);
    expect(await driver.delete(b.ref)).toBe(0);
  });

  it('a failing write removes what the backup had written (nothing half-listed)', async () => {
    const src = join(dir, 'vol.img');
    await makeVolume(src, 8 * CS);
    const id = randomUUID();
    const vol = randomUUID();
    let puts = 0;
    const put = target.put.bind(target);
    target.put = async (c, n, d) => {
      if (++puts === 3) throw Object.assign(new Error('no space'), { code: 'ENOSPC' });
      return put(c, n, d);
    };
    await expect(backup(id, vol, src, 8 * CS, null)).rejects.toThrow('no space');
    const prefix = objectPrefix(vol, id, new Date().toISOString()).slice(0, 50);
    expect(await target.list(target.defaultContainer(id), prefix)).toEqual([]);
  });

  it('chunks are written without a sync each, flushed together, and only then named by the sha256file and the metadata', async () => {
    const src = join(dir, 'vol.img');
    await makeVolume(src, 8 * CS);
    const log: string[] = [];
    const put = target.put.bind(target);
    target.put = async (c, n, d, o) => {
      log.push(`${o?.deferSync ? 'lazy' : 'sync'} ${n.replace(/^.*_backup_[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}/, '')}`);
      return put(c, n, d, o);
    };
    const flush = target.flush.bind(target);
    target.flush = async (c, names) => {
      log.push(`flush ${names.length}`);
      return flush(c, names);
    };
    const r = await backup(randomUUID(), randomUUID(), src, 8 * CS, null);
    expect(r.object_count).toBe(3);
    expect(log.slice(0, 3).every((x) => x.startsWith('lazy -0000'))).toBe(true);
    expect(log.slice(3)).toEqual(['flush 3', 'sync _sha256file', 'sync _metadata']);
  });

  it('clean-up after a killed backup removes the .part a write cut short left (listings never show it)', async () => {
    const src = join(dir, 'vol.img');
    await makeVolume(src, 8 * CS);
    const id = randomUUID();
    const vol = randomUUID();
    const container = target.defaultContainer(id);
    const prefix = objectPrefix(vol, id, new Date().toISOString());
    // What kill -9 leaves: one whole object, and the next one's .part still being written.
    await target.putContainer(container);
    await target.put(container, `${prefix}-00001`, Buffer.from('whole'));
    writeFileSync(join(dir, 'store', container, `.${prefix}-00002.part`), 'half');
    // Another backup's .part in the same container is not ours.
    writeFileSync(join(dir, 'store', container, `.volume_${vol}_x-00001.part`), 'other');
    expect(await target.list(container, prefix)).toEqual([`${prefix}-00001`]);
    await driver.deletePrefix(container, prefix);
    expect(readdirSync(join(dir, 'store', container))).toEqual([`.volume_${vol}_x-00001.part`]);
    rmSync(join(dir, 'store', container, `.volume_${vol}_x-00001.part`));
    await driver.deletePrefix(container, prefix);
    // The emptied default container (ab/cd/<id>) goes with its last file.
    expect(readdirSync(join(dir, 'store'))).toEqual(['.homestack-backup-target']);
  });

  it('the marker gives the store its id; a store whose marker vanished (unmounted share) is unreachable', async () => {
    const again = new PosixTarget({ path: join(dir, 'store') });
    await again.init();
    expect(again.id).toBe(target.id);
    expect(target.id).toMatch(/^posix:[0-9a-f-]{36}$/);
    rmSync(join(dir, 'store', '.homestack-backup-target'));
    await expect(target.putContainer('x')).rejects.toMatchObject({ code: 'TargetUnreachable' });
    expect(() => target.checkContainer('../etc')).toThrow(/not a valid name/);
  });
});
