import { randomUUID } from 'node:crypto';
import type { BodyOf, ReplyOf } from '../../../shared/agent/contract.js';
import type { BackupProgress, BackupRef, CreateBackup, DeleteBackup, VerifyBackup } from '../../../shared/agent/backup.js';
import { CloudError } from '../../../shared/errors/index.js';
import { BackendError, GiB, type VolumeBackend } from '../backend.js';
import { ChunkedDriver, objectPrefix, type Progress } from './chunked.js';
import { Journal } from './journal.js';
import { BackupTargetError, type BackupTarget } from './target.js';

/** The agent stopped during a job: what it wrote was removed; the controller marks the backup error. */
export class JobInterrupted extends CloudError {
  readonly retryable = false;
  constructor(code: 'BackupInterrupted' | 'RestoreInterrupted', message: string) {
    super(500, message, code, true);
  }
}

interface Log {
  info(o: object, m?: string): void;
  warn(o: object, m?: string): void;
}

/**
 * The volume role's backups: chooses what to read (the volume, a user's snapshot, or a
 * temporary snapshot of an in-use volume), keeps the job journal, reports progress, and
 * runs the chunked driver against the configured target.
 */
export class BackupService {
  private readonly running = new Map<string, { kind: 'backup' | 'restore'; p: Progress }>();
  readonly journal: Journal;

  private readonly log: Log | undefined;

  constructor(
    readonly driver: ChunkedDriver,
    private readonly backend: VolumeBackend,
    o: { workDir: string; log?: Log },
  ) {
    this.journal = new Journal(`${o.workDir}/backup-jobs`);
    this.log = o.log;
  }

  get target(): BackupTarget {
    return this.driver.target;
  }

  get service(): string {
    return `homestack.backup.drivers.${this.target.kind}`;
  }

  /** Target reachable; jobs a previous process left are undone and marked interrupted. */
  async init(): Promise<void> {
    await this.target.init();
    await this.recover();
  }

  async recover(): Promise<number> {
    let n = 0;
    for (const e of await this.journal.all()) {
      if (e.state !== 'running' || this.running.has(e.id)) continue;
      n++;
      try {
        if (e.kind === 'backup' && e.container && e.prefix) await this.driver.deletePrefix(e.container, e.prefix);
        if (e.temp_snapshot_id) await this.backend.deleteSnapshot(e.temp_snapshot_id);
        if (e.kind === 'restore' && e.volume_is_new) await this.backend.delete(e.volume_id);
        await this.journal.put({ ...e, state: 'interrupted', note: 'cleaned up at agent start' });
        this.log?.warn({ job: e.kind, id: e.id }, 'a backup job was interrupted by an agent stop; its partial work was removed');
      } catch (err) {
        this.log?.warn({ err, job: e.kind, id: e.id }, 'could not clean up an interrupted backup job (will retry at next start)');
      }
    }
    return n;
  }

  progress(b: BodyOf<typeof BackupProgress>): ReplyOf<typeof BackupProgress> {
    const r = this.running.get(b.id);
    if (!r) throw new BackupTargetError('ObjectNotFound', `no backup or restore of ${b.id} is running here`);
    return { kind: r.kind, objects: r.p.objects, bytes_done: r.p.bytesDone, bytes_total: r.p.bytesTotal };
  }

  /** A job's entry left interrupted by a previous process ends this call with an error (once). */
  private async refuseInterrupted(kind: 'backup' | 'restore', id: string): Promise<void> {
    const e = await this.journal.get(kind, id);
    if (e?.state !== 'interrupted') return;
    await this.journal.remove(kind, id);
    if (kind === 'backup')
      throw new JobInterrupted(
        'BackupInterrupted',
        'the volume agent stopped during the backup; the objects it had written were removed',
      );
    throw new JobInterrupted('RestoreInterrupted', 'the volume agent stopped during the restore; the volume holds partial data');
  }

  async create(b: BodyOf<typeof CreateBackup>): Promise<ReplyOf<typeof CreateBackup>> {
    await this.refuseInterrupted('backup', b.id);
    const container = b.container ?? this.target.defaultContainer(b.id);
    this.target.checkContainer(container);
    const vol = await this.backend.find(b.volume_id);
    if (!vol) throw new BackendError('VolumeNotFound', `volume ${b.volume_id} is not on this host`);
    const sizeBytes = b.size_gb * GiB;
    const prefix = objectPrefix(b.volume_id, b.id, b.created_at);
    const tempSnap = b.temp_snapshot && !b.snapshot_id ? randomUUID() : null;
    const entry = {
      kind: 'backup' as const,
      id: b.id,
      volume_id: b.volume_id,
      state: 'running' as const,
      container,
      prefix,
      temp_snapshot_id: tempSnap,
      started_at: new Date().toISOString(),
    };
    await this.journal.put(entry);
    const p: Progress = { objects: 0, bytesDone: 0, bytesTotal: sizeBytes };
    this.running.set(b.id, { kind: 'backup', p });
    try {
      let source = vol.devicePath;
      if (b.snapshot_id) {
        const s = await this.backend.findSnapshot(b.snapshot_id);
        if (!s) throw new BackendError('SnapshotNotFound', `snapshot ${b.snapshot_id} is not on this host`);
        source = s.devicePath;
      } else if (tempSnap) {
        // An in-use volume: read a point-in-time copy, never the disk the guest writes.
        await this.backend.snapshot({ id: tempSnap, volumeId: b.volume_id });
        source = (await this.backend.findSnapshot(tempSnap))!.devicePath;
      }
      const r = await this.driver.backup(
        {
          id: b.id,
          volumeId: b.volume_id,
          name: b.name,
          description: b.description,
          createdAt: b.created_at,
          container,
          sizeBytes,
          parent: b.parent,
        },
        source,
        (x) => Object.assign(p, x),
      );
      this.log?.info({ backup: b.id, objects: r.object_count, stored: r.stored_bytes }, 'backup written');
      return {
        container,
        service_metadata: r.service_metadata,
        service: this.service,
        target_id: this.target.id,
        object_count: r.object_count,
        stored_bytes: r.stored_bytes,
      };
    } finally {
      this.running.delete(b.id);
      if (tempSnap)
        await this.backend.deleteSnapshot(tempSnap).catch((err) => this.log?.warn({ err }, 'temporary snapshot left'));
      await this.journal.remove('backup', b.id);
    }
  }

  /**
   * Writes the chain into a volume of this host. `volumeIsNew`: made for this restore
   * (the caller removes it on failure).
   */
  async restoreInto(id: string, volumeId: string, chain: BackupRef[], volumeIsNew: boolean): Promise<{ bytes: number }> {
    // Keyed by the volume: that is what a half-done restore leaves behind.
    await this.refuseInterrupted('restore', volumeId);
    const vol = await this.backend.find(volumeId);
    if (!vol) throw new BackendError('VolumeNotFound', `volume ${volumeId} is not on this host`);
    await this.journal.put({
      kind: 'restore',
      id: volumeId,
      volume_id: volumeId,
      state: 'running',
      volume_is_new: volumeIsNew,
      started_at: new Date().toISOString(),
    });
    const p: Progress = { objects: 0, bytesDone: 0, bytesTotal: vol.sizeBytes };
    this.running.set(id, { kind: 'restore', p });
    try {
      const skipZeros = volumeIsNew && this.backend.newVolumesReadZero;
      const r = await this.driver.restore(chain, vol.devicePath, { skipZeros }, (x) => Object.assign(p, x));
      this.log?.info({ backup: id, volume: volumeId, bytes: r.bytes }, 'backup restored');
      return r;
    } finally {
      this.running.delete(id);
      await this.journal.remove('restore', volumeId);
    }
  }

  async delete(b: BodyOf<typeof DeleteBackup>): Promise<ReplyOf<typeof DeleteBackup>> {
    if (!b.container || !b.service_metadata) return { objects: 0 };
    this.target.checkContainer(b.container);
    return { objects: await this.driver.delete({ id: b.id, container: b.container, service_metadata: b.service_metadata }) };
  }

  async verify(ref: BodyOf<typeof VerifyBackup>): Promise<ReplyOf<typeof VerifyBackup>> {
    this.target.checkContainer(ref.container);
    const m = await this.driver.readMetadata(ref);
    const listed = new Set(await this.target.list(ref.container, ref.service_metadata));
    const missing = m.objects.filter((o) => !listed.has(o.name));
    if (missing.length)
      throw new BackupTargetError('ObjectNotFound', `backup ${ref.id} misses ${missing.length} object(s) in ${ref.container}`);
    return {
      volume_id: m.volume_id,
      size_bytes: m.size_bytes,
      object_count: m.objects.length,
      parent_id: m.parent_id,
      target_id: this.target.id,
      service: this.service,
    };
  }
}
