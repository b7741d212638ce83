import { randomUUID } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, statfs } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { BackupTargetError, checkContainerName, type BackupTarget } from './target.js';

const MARKER = '.homestack-backup-target';

/** Maps a file-system error to the store's error codes. */
export function fsError(e: unknown, what: string): BackupTargetError {
  const err = e as NodeJS.ErrnoException;
  if (e instanceof BackupTargetError) return e;
  if (err.code === 'ENOSPC' || err.code === 'EDQUOT')
    return new BackupTargetError('TargetFull', `${what}: the backup target is full (${err.code})`, e);
  if (err.code === 'ENOENT') return new BackupTargetError('ObjectNotFound', `${what}: not found`, e);
  if (['EIO', 'ESTALE', 'ENOTCONN', 'EHOSTDOWN', 'ETIMEDOUT', 'EACCES', 'EROFS'].includes(err.code ?? ''))
    return new BackupTargetError('TargetUnreachable', `${what}: ${err.code} ${err.message}`, e);
  return new BackupTargetError('TargetError', `${what}: ${err.message}`, e);
}

/**
 * Backups in a directory (Cinder's posix driver: backup_posix_path, containers as
 * sub-directories, default container `ab/cd/<backup id>`, files 0640). Objects are
 * written to a `.part` name, fsynced and renamed, so a crash never leaves a file that
 * looks whole; chunks written with `deferSync` are fsynced by `flush` before the
 * metadata that names them is written (after a power loss an unflushed chunk may look
 * whole, but no backup names it and its SHA-256 is checked on every restore). The
 * marker file at the root gives the store its id and tells a mounted share from the
 * empty mount point under it: when the marker is gone (the share is not mounted), every
 * operation fails with TargetUnreachable instead of filling the local disk.
 */
export class PosixTarget implements BackupTarget {
  readonly kind = 'posix' as const;
  private _id = '';

  constructor(private readonly o: { path: string }) {}

  get id(): string {
    return this._id;
  }

  async init(): Promise<void> {
    await mkdir(this.o.path, { recursive: true, mode: 0o750 }).catch((e) => {
      throw fsError(e, `backup directory ${this.o.path}`);
    });
    const marker = join(this.o.path, MARKER);
    const have = await readFile(marker, 'utf8').catch(() => null);
    if (have) {
      this._id = (JSON.parse(have) as { id: string }).id;
      return;
    }
    const id = `posix:${randomUUID()}`;
    const part = `${marker}.${process.pid}.part`;
    try {
      const fh = await open(part, 'wx', 0o640);
      await fh.writeFile(JSON.stringify({ id, created_at: new Date().toISOString() }));
      await fh.sync();
      await fh.close();
      // Another host may have written it meanwhile (same share): keep the first.
      const again = await readFile(marker, 'utf8').catch(() => null);
      if (again) {
        await rm(part, { force: true });
        this._id = (JSON.parse(again) as { id: string }).id;
        return;
      }
      await rename(part, marker);
      this._id = id;
    } catch (e) {
      await rm(part, { force: true });
      throw fsError(e, `backup target marker in ${this.o.path}`);
    }
  }

  /** The marker must still be there (an NFS share that was unmounted leaves an empty mount point). */
  private async reachable(): Promise<void> {
    const have = await readFile(join(this.o.path, MARKER), 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return null;
      throw fsError(e, `backup directory ${this.o.path}`);
    });
    if (!have || (JSON.parse(have) as { id: string }).id !== this._id)
      throw new BackupTargetError(
        'TargetUnreachable',
        `the backup directory ${this.o.path} is not the backup target this agent started with (its marker is missing: is the share mounted?)`,
      );
  }

  defaultContainer(backupId: string): string {
    return join(backupId.slice(0, 2), backupId.slice(2, 4), backupId);
  }

  checkContainer(container: string): void {
    checkContainerName(container);
  }

  private dir(container: string): string {
    checkContainerName(container);
    return join(this.o.path, container);
  }

  private file(container: string, name: string): string {
    if (!/^[A-Za-z0-9_.-]+$/.test(name) || name.startsWith('.'))
      throw new BackupTargetError('TargetError', `bad object name ${name}`);
    return join(this.dir(container), name);
  }

  async putContainer(container: string): Promise<void> {
    await this.reachable();
    await mkdir(this.dir(container), { recursive: true, mode: 0o750 }).catch((e) => {
      throw fsError(e, `container ${container}`);
    });
  }

  async put(container: string, name: string, data: Buffer, o: { deferSync?: boolean } = {}): Promise<void> {
    const dst = this.file(container, name);
    const part = `${dirname(dst)}/.${name}.part`;
    try {
      const fh = await open(part, 'w', 0o640);
      try {
        await fh.writeFile(data);
        if (!o.deferSync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(part, dst);
    } catch (e) {
      await rm(part, { force: true }).catch(() => {});
      throw fsError(e, `write ${container}/${name}`);
    }
  }

  /**
   * One fsync per object at the end instead of one per write: the kernel writes the
   * data back meanwhile, and a backup waited on each journal commit in turn (a 2 GiB
   * backup's 512 objects spent more time in fsync than in compression on a busy disk).
   */
  async flush(container: string, names: readonly string[]): Promise<void> {
    const syncOne = async (path: string, flags: string) => {
      let fh: Awaited<ReturnType<typeof open>> | null = null;
      try {
        fh = await open(path, flags);
        await fh.sync();
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw fsError(e, `sync ${container}/${basename(path)}`);
      } finally {
        await fh?.close();
      }
    };
    const files = names.map((n) => this.file(container, n));
    for (let i = 0; i < files.length; i += 8) await Promise.all(files.slice(i, i + 8).map((f) => syncOne(f, 'r')));
    await syncOne(this.dir(container), 'r');
  }

  async get(container: string, name: string): Promise<Buffer> {
    try {
      return await readFile(this.file(container, name));
    } catch (e) {
      throw fsError(e, `read ${container}/${name}`);
    }
  }

  async list(container: string, prefix: string): Promise<string[]> {
    try {
      return (await readdir(this.dir(container))).filter((n) => n.startsWith(prefix) && !n.startsWith('.'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw fsError(e, `list ${container}`);
    }
  }

  async delete(container: string, name: string): Promise<void> {
    const f = this.file(container, name);
    try {
      await rm(f, { force: true });
      await rm(`${dirname(f)}/.${name}.part`, { force: true });
    } catch (e) {
      throw fsError(e, `delete ${container}/${name}`);
    }
    await this.pruneEmpty(this.dir(container));
  }

  async deletePartial(container: string, prefix: string): Promise<number> {
    const d = this.dir(container);
    let names: string[];
    try {
      names = (await readdir(d)).filter((n) => n.startsWith(`.${prefix}`) && n.endsWith('.part'));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw fsError(e, `list ${container}`);
    }
    for (const n of names) {
      await rm(join(d, n), { force: true }).catch((e) => {
        throw fsError(e, `delete ${container}/${n}`);
      });
    }
    await this.pruneEmpty(d);
    return names.length;
  }

  /** Empty containers of the default layout go (ab/cd/<id>, then ab/cd, ab). */
  private async pruneEmpty(from: string): Promise<void> {
    let d = from;
    while (d.startsWith(this.o.path) && d !== this.o.path) {
      const gone = await rmdir(d).then(
        () => true,
        () => false,
      );
      if (!gone) break;
      d = dirname(d);
    }
  }

  async freeBytes(): Promise<number | null> {
    const s = await statfs(this.o.path);
    return s.bavail * s.bsize;
  }
}
