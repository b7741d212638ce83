import { createHash, randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ProcessCloud } from '../../../faults/processes/harness.js';
import { until } from '../../../faults/processes/util.js';

/** Helpers of the backup tests that run a real controller and volume agent (ProcessCloud). */

export const MiB = 1024 * 1024;
const ZERO = Buffer.alloc(4 * MiB);

/**
 * The SHA-256 of a file as (offset, block) for every 4 MiB block that is not all zeros,
 * and its length: equal digests mean equal bytes, and a volume's gigabyte of holes costs
 * a memcmp instead of a hash.
 */
export function digest(path: string): string {
  const h = createHash('sha256');
  const buf = Buffer.alloc(ZERO.length);
  const fd = openSync(path, 'r');
  try {
    let off = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, off);
      if (n === 0) break;
      const b = buf.subarray(0, n);
      if (!b.equals(ZERO.subarray(0, n))) h.update(`${off}:`).update(b);
      off += n;
    }
    h.update(`len:${off}`);
  } finally {
    closeSync(fd);
  }
  return h.digest('hex');
}

/** What a guest would do: write into the volume's back-end file (the file back end). */
export function guestWrite(path: string, offset: number, data: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, data, 0, data.length, offset);
  } finally {
    closeSync(fd);
  }
}

/** `n` MiB of hex text: compressible to about half, and slow for zstd at high levels. */
export const hexData = (n: number): Buffer => Buffer.from(randomBytes((n * MiB) / 2).toString('hex'));

export class BackupApi {
  constructor(private readonly c: ProcessCloud) {}

  get v(): string {
    return `/volume/v3/${this.c.projectId}`;
  }

  volFile(id: string): string {
    return join(this.c.dir, 'agent', 'volumes', `volume-${id}.img`);
  }

  /** The files of the posix store (default <data_dir>/backups), relative, sorted. */
  storeFiles(): string[] {
    const root = join(this.c.dir, 'agent', 'backups');
    if (!existsSync(root)) return [];
    return (readdirSync(root, { recursive: true, withFileTypes: true }) as import('node:fs').Dirent[])
      .filter((e) => e.isFile())
      .map((e) => join(e.parentPath, e.name).slice(root.length + 1))
      .sort();
  }

  async volume(id: string): Promise<{ status: number; body: any }> {
    return this.c.api('GET', `${this.v}/volumes/${id}`);
  }

  async backup(id: string): Promise<any> {
    const r = await this.c.api('GET', `${this.v}/backups/${id}`);
    if (r.status !== 200) throw new Error(`backup show ${id}: ${r.status} ${JSON.stringify(r.body)}`);
    return r.body.backup;
  }

  async createVolume(name: string, size = 1): Promise<string> {
    const r = await this.c.api('POST', `${this.v}/volumes`, { volume: { size, name } });
    if (r.status !== 202) throw new Error(`volume create: ${r.status} ${JSON.stringify(r.body)}`);
    await this.volumeIs(r.body.volume.id, 'available');
    return r.body.volume.id;
  }

  async volumeIs(id: string, status: string, ms = 120_000): Promise<any> {
    return until(
      `volume ${id} to be ${status}`,
      async () => {
        const v = (await this.volume(id)).body?.volume;
        if (v?.status === 'error' || v?.status === 'error_restoring')
          if (status !== v.status) throw new Error(`volume ${id} is ${v.status}`);
        return v?.status === status && v;
      },
      ms,
      250,
    );
  }

  async backupIs(id: string, status: string, ms = 180_000): Promise<any> {
    return until(
      `backup ${id} to be ${status}`,
      async () => {
        const b = await this.backup(id);
        if (b.status === 'error' && status !== 'error') throw new Error(`backup ${id} is error: ${b.fail_reason}`);
        return b.status === status && b;
      },
      ms,
      250,
    );
  }

  /** Until GET answers 404 (the agent deleted its objects). */
  async backupGone(id: string, ms = 60_000): Promise<void> {
    await until(
      `backup ${id} to be gone`,
      async () => (await this.c.api('GET', `${this.v}/backups/${id}`)).status === 404,
      ms,
      250,
    );
  }

  async createBackup(body: Record<string, unknown>): Promise<{ status: number; body: any }> {
    return this.c.api('POST', `${this.v}/backups`, { backup: body });
  }
}
