import type { Dispatcher } from 'undici';
import type { BodyOf, ReplyOf } from '../../shared/agent/contract.js';
import type { CreateVolume, SyncConnections, UploadVolumeToImage, VolumeStats } from '../../shared/agent/volume.js';
import { BackendError, type VolumeBackend } from './backend.js';
import type { BackupService } from './backup/service.js';
import { withImage } from './image-fetch.js';
import { uploadVolumeToImage } from './image-upload.js';
import { TargetError, type ChapAuth, type Connector, type IscsiConnectionInfo, type IscsiTarget } from './target.js';

/**
 * The volume role's logic: back end (data at rest) + target (export) + image fetch.
 * Holds no state of its own: the back end and the target are the truth (it remembers
 * the connections it let in only to re-apply them when tgtd lost them: healExports).
 */
export class VolumeService {
  /** Connections this agent let in (volume|initiator → what to re-apply if tgtd forgets them). */
  private readonly conns = new Map<string, { volumeId: string; c: Connector; auth: ChapAuth }>();
  private readonly deleting = new Set<string>();

  constructor(
    private readonly backend: VolumeBackend,
    private readonly target: IscsiTarget,
    private readonly o: {
      workDir: string;
      log?: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
      dispatcher?: Dispatcher;
      /** The backup driver (null: `backup.target = "none"`). */
      backups?: BackupService | null;
    },
  ) {}

  get backups(): BackupService | null {
    return this.o.backups ?? null;
  }

  /** os-volume_upload_image: the volume converted and PUT to the image API (image-upload.ts). */
  uploadToImage(b: BodyOf<typeof UploadVolumeToImage>): Promise<ReplyOf<typeof UploadVolumeToImage>> {
    return uploadVolumeToImage(
      this.backend,
      this.o.workDir,
      { volumeId: b.id, imageId: b.image_id, uploadUrl: b.upload_url, token: b.token, diskFormat: b.disk_format },
      { dispatcher: this.o.dispatcher },
    );
  }

  /** At agent start: every stored volume is exported again (tgtd forgets on restart). */
  async restoreExports(): Promise<number> {
    let n = 0;
    for (const v of await this.backend.list()) {
      try {
        await this.target.ensureExport(v.id, v.devicePath);
        n++;
      } catch (err) {
        this.o.log?.warn({ err, volume: v.id }, 'could not restore an export');
      }
    }
    return n;
  }

  create(b: BodyOf<typeof CreateVolume>): Promise<ReplyOf<typeof CreateVolume>> {
    return (async () => {
      const v = { id: b.id, sizeGb: b.size_gb };
      const s = b.source;
      let r: { devicePath: string };
      if (s.type === 'empty') r = await this.backend.create(v);
      else if (s.type === 'snapshot') r = await this.backend.createFromSnapshot(v, s.snapshot_id);
      else if (s.type === 'volume') r = await this.backend.createFromVolume(v, s.volume_id);
      else if (s.type === 'backup') {
        const backups = this.o.backups;
        if (!backups) throw new BackendError('BackendError', 'this host has no backup target (backup.target = "none")');
        if ((await this.backend.find(b.id)) === null) {
          r = await this.backend.create(v);
          try {
            await backups.restoreInto(s.backup_id, b.id, s.chain, true);
          } catch (e) {
            await this.backend.delete(b.id).catch(() => {});
            throw e;
          }
        } else r = await this.backend.create(v); // a retry after the restore finished: the volume is whole
      } else {
        r = await withImage(
          this.o.workDir,
          s.image,
          (path) => this.backend.createFromImage(v, { path, format: s.image.disk_format }),
          { dispatcher: this.o.dispatcher },
        );
      }
      try {
        await this.target.ensureExport(b.id, r.devicePath);
      } catch (e) {
        await this.backend.delete(b.id).catch(() => {});
        throw e;
      }
      return { device_path: r.devicePath, size_gb: b.size_gb };
    })();
  }

  delete(id: string): Promise<Record<string, never>> {
    return (async () => {
      this.deleting.add(id); // healExports must not re-export it in between
      try {
        await this.target.removeExport(id);
        await this.backend.delete(id);
      } finally {
        this.deleting.delete(id);
      }
      return {};
    })();
  }

  extend(id: string, sizeGb: number): Promise<{ size_gb: number }> {
    return (async () => {
      await this.backend.extend(id, sizeGb);
      // tgt reads the LUN size when the LUN is created: re-create the export so new
      // logins see the new size (live sessions keep theirs until they reconnect).
      const v = await this.backend.find(id);
      if (v) {
        const ex = (await this.target.list()).find((e) => e.volumeId === id);
        if (!ex || ex.users.length === 0) {
          await this.target.removeExport(id);
          await this.target.ensureExport(id, v.devicePath);
        }
      }
      return { size_gb: sizeGb };
    })();
  }

  snapshot(id: string, volumeId: string): Promise<Record<string, never>> {
    return (async () => {
      await this.backend.snapshot({ id, volumeId });
      return {};
    })();
  }

  deleteSnapshot(id: string): Promise<Record<string, never>> {
    return (async () => {
      await this.backend.deleteSnapshot(id);
      return {};
    })();
  }

  initializeConnection(id: string, c: Connector, auth: ChapAuth): Promise<{ connection: IscsiConnectionInfo }> {
    return (async () => {
      const v = await this.backend.find(id);
      if (!v) throw new BackendError('VolumeNotFound', `volume ${id} is not on this host`);
      await this.target.ensureExport(id, v.devicePath);
      const connection = await this.target.initializeConnection(id, c, auth);
      this.conns.set(`${id}|${c.initiator}`, { volumeId: id, c, auth });
      return { connection };
    })();
  }

  /**
   * Run on a timer while the agent runs: when a stored volume has no target (tgtd
   * restarted under the agent and forgot everything), export it again and re-apply the
   * connections this agent let in. Returns how many volumes were re-exported.
   */
  async healExports(): Promise<number> {
    const exported = new Set((await this.target.list()).map((e) => e.volumeId));
    let n = 0;
    for (const v of await this.backend.list()) {
      if (exported.has(v.id) || this.deleting.has(v.id)) continue;
      try {
        await this.target.ensureExport(v.id, v.devicePath);
        n++;
        for (const k of this.conns.values()) if (k.volumeId === v.id) await this.target.initializeConnection(v.id, k.c, k.auth);
      } catch (err) {
        this.o.log?.warn({ err, volume: v.id }, 'could not re-export a volume tgtd lost');
      }
    }
    if (n) this.o.log?.info({ reexported: n }, 'the target lost exports; restored them');
    return n;
  }

  terminateConnection(id: string, c: Connector, auth: ChapAuth): Promise<Record<string, never>> {
    return (async () => {
      await this.target.terminateConnection(id, c, auth);
      this.conns.delete(`${id}|${c.initiator}`);
      return {};
    })();
  }

  /** The whole desired set of connections: export, let in; remove credentials of ours that are not wanted. */
  syncConnections(b: BodyOf<typeof SyncConnections>): Promise<ReplyOf<typeof SyncConnections>> {
    return (async () => {
      const exported = await this.restoreExports();
      let n = 0;
      const wanted = new Set(b.connections.map((c) => c.auth.username));
      for (const [k, v] of this.conns) if (!wanted.has(v.auth.username)) this.conns.delete(k);
      for (const c of b.connections) {
        try {
          await this.initializeConnection(c.volume_id, c.connector, c.auth);
          n++;
        } catch (err) {
          this.o.log?.warn({ err, volume: c.volume_id }, 'could not restore a connection');
        }
      }
      for (const ex of await this.target.list()) {
        for (const u of ex.users) {
          if (!wanted.has(u) && u.startsWith('hs-')) {
            await this.target
              .terminateConnection(
                ex.volumeId,
                { initiator: 'iqn.2000-01.invalid:none' },
                { username: u, password: 'x'.repeat(12) },
              )
              .catch(() => {});
          }
        }
      }
      return { exports: exported, connections: n };
    })();
  }

  async stats(): Promise<ReplyOf<typeof VolumeStats>> {
    const s = await this.backend.stats();
    return {
      backend: this.backend.name,
      total_gb: s.totalGb,
      free_gb: s.freeGb,
      volumes: (await this.backend.list()).length,
      exports: (await this.target.list()).length,
    };
  }
}
