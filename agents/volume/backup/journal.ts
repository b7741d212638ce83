import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What a backup or restore in progress must undo if the agent dies under it: one JSON
 * file per job in `<data_dir>/volume-work/backup-jobs/`, written before the first side
 * effect and removed when the job ends. At start the agent undoes what the previous
 * process left (Cinder's backup manager does the same in
 * `_cleanup_incomplete_backup_operations`) and marks the entry interrupted; the
 * controller's retry of that operation then gets BackupInterrupted / RestoreInterrupted
 * instead of a second try, so the backup ends `error` as Cinder's does.
 */
export interface JobEntry {
  kind: 'backup' | 'restore';
  id: string;
  volume_id: string;
  state: 'running' | 'interrupted';
  container?: string;
  prefix?: string;
  temp_snapshot_id?: string | null;
  /** restore: the volume was made for it (remove it when interrupted). */
  volume_is_new?: boolean;
  started_at: string;
  note?: string;
}

export class Journal {
  constructor(private readonly dir: string) {}

  private file(kind: string, id: string): string {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new Error(`bad job id ${id}`);
    return join(this.dir, `${kind}-${id}.json`);
  }

  async get(kind: JobEntry['kind'], id: string): Promise<JobEntry | null> {
    const raw = await readFile(this.file(kind, id), 'utf8').catch(() => null);
    return raw ? (JSON.parse(raw) as JobEntry) : null;
  }

  async put(e: JobEntry): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const f = this.file(e.kind, e.id);
    await writeFile(`${f}.part`, JSON.stringify(e), { mode: 0o600 });
    await rename(`${f}.part`, f);
  }

  async remove(kind: JobEntry['kind'], id: string): Promise<void> {
    await rm(this.file(kind, id), { force: true });
  }

  async all(): Promise<JobEntry[]> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const out: JobEntry[] = [];
    for (const n of names) {
      if (!n.endsWith('.json')) continue;
      const raw = await readFile(join(this.dir, n), 'utf8').catch(() => null);
      if (raw) out.push(JSON.parse(raw) as JobEntry);
    }
    return out;
  }
}
