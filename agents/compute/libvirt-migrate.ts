import { createReadStream, createWriteStream } from 'node:fs';
import { chmod, mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { request, type Dispatcher } from 'undici';
import type { Readable } from 'node:stream';
import type { BodyOf } from '../../shared/agent/contract.js';
import type { LiveMigrate, MigrationStats, PrepareIncoming, TransferFile } from '../../shared/agent/migration.js';
import { ToolError } from '../../shared/exec/run.js';
import type { JobInfo } from '../../shared/tools/virsh.js';
import { VirshError } from '../../shared/tools/virsh.js';
import { Reverter } from '../../shared/util/reverter.js';
import { CloudError, Conflict } from '../../shared/errors/index.js';
import { InstanceExists, InvalidState, stepFailed } from './errors.js';
import { isInvalidOperation, isNoDomain } from './libvirt-conn.js';
import { mustLookup, paths, virState, volumeSecret, type LibvirtCtx } from './libvirt-ctx.js';
import * as dev from './libvirt-devices.js';
import { VIR } from './libvirt-state.js';
import { destinationXml, targetOfFile } from './migration-xml.js';

const GiB = 1024 ** 3;

/** A live migration that did not happen: the instance still runs here. */
export class MigrationFailed extends Conflict {
  readonly retryable = false;
  constructor(message: string, code = 'MigrationFailed') {
    super(message, code);
  }
}

export interface Offer {
  uuid: string;
  files: TransferFile[];
  expiresAt: number;
}

const statsOf = (j: JobInfo): MigrationStats => ({
  memory_total: j.memoryTotal,
  memory_processed: j.memoryProcessed,
  memory_remaining: j.memoryRemaining,
  disk_total: j.diskTotal,
  disk_processed: j.diskProcessed,
  disk_remaining: j.diskRemaining,
  elapsed_ms: j.timeElapsedMs,
  ...(j.downtimeMs !== null ? { downtime_ms: j.downtimeMs } : {}),
});

/**
 * Moving instances with libvirt (shared/docs/live-migration-recipe.md): the destination
 * prepares (files, base image, CHAP secrets), the source runs `virsh migrate --live
 * --p2p --tls` and the leftovers are cleaned up on either side. Offers of an instance's
 * files to another agent live in memory (a restarted agent forgets them; the controller
 * offers again). `serial` is the driver's per-instance lock: the migration itself holds
 * it, progress, abort and force-complete do not (they act on the running job).
 */
export class LibvirtMigration {
  private readonly offers = new Map<string, Offer>();
  private readonly running = new Map<string, { aborted: boolean; last: MigrationStats | null }>();

  constructor(
    private readonly c: LibvirtCtx,
    private readonly serial: <T>(uuid: string, fn: () => Promise<T>) => Promise<T>,
    private readonly dispatcher?: Dispatcher,
  ) {}

  // ── files, agent to agent ────────────────────────────────────────────────────────────

  async offer(uuid: string, token: string, files: TransferFile[], expiresS: number) {
    const p = paths(this.c, uuid);
    const out: Array<{ name: TransferFile; size: number }> = [];
    for (const f of files) {
      const st = await stat(join(p.dir, f)).catch(() => null);
      if (!st) throw new InvalidState(`Instance ${uuid} has no ${f} on this host.`);
      out.push({ name: f, size: st.size });
    }
    const now = Date.now();
    for (const [t, o] of this.offers) if (o.expiresAt < now) this.offers.delete(t);
    this.offers.set(token, { uuid: uuid.toLowerCase(), files, expiresAt: now + expiresS * 1000 });
    return out;
  }

  /** The file a token may read, or null (unknown or expired token, or a file not offered). */
  offered(token: string, file: string): { path: string } | null {
    const o = this.offers.get(token);
    if (!o || o.expiresAt < Date.now() || !o.files.includes(file as TransferFile)) return null;
    return { path: join(paths(this.c, o.uuid).dir, file) };
  }

  hasToken(token: string): boolean {
    const o = this.offers.get(token);
    return Boolean(o && o.expiresAt >= Date.now());
  }

  private async fetch(baseUrl: string, token: string, file: TransferFile, to: string): Promise<number> {
    const url = `${baseUrl.replace(/\/+$/, '')}/v1/compute/transfers/${token}/${file}`;
    const res = await request(url, {
      method: 'GET',
      headers: { authorization: `Bearer ${token}` },
      dispatcher: this.dispatcher,
      headersTimeout: 60_000,
      bodyTimeout: 300_000,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text().catch(() => '');
      throw new Error(`GET ${file} from the source host answered ${res.statusCode}: ${text.slice(0, 300)}`);
    }
    const part = `${to}.part`;
    await pipeline(res.body as unknown as Readable, createWriteStream(part, { mode: 0o644 }));
    await rename(part, to);
    return (await stat(to)).size;
  }

  // ── the destination ──────────────────────────────────────────────────────────────────

  prepareIncoming(b: BodyOf<typeof PrepareIncoming>) {
    return this.serial(b.uuid, async () => {
      const c = this.c;
      const uuid = b.uuid.toLowerCase();
      if (await c.conn.lookup(uuid)) throw new InstanceExists(uuid);
      const p = paths(c, uuid);
      const r = new Reverter();
      try {
        await rm(p.dir, { recursive: true, force: true });
        await mkdir(p.dir, { recursive: true, mode: 0o755 });
        await chmod(p.dir, 0o755);
        r.add('remove instance directory', () => rm(p.dir, { recursive: true, force: true }));
        let fetched = 0;
        const t0 = performance.now();
        for (const f of b.fetch?.files ?? []) {
          try {
            fetched += await this.fetch(b.fetch!.base_url, b.fetch!.token, f, join(p.dir, f));
          } catch (e) {
            throw stepFailed('MigrationPrepareFailed', `copy ${f} from the source host`, e);
          }
        }
        const fetchMs = Math.round(performance.now() - t0);
        if (b.image) {
          const base = await c.cache.ensure(b.image).catch((e) => {
            throw stepFailed('MigrationPrepareFailed', `fetch image ${b.image!.id}`, e);
          });
          try {
            if (b.mode === 'live') {
              await c.qemuImg.create(p.root, 'qcow2', Math.max(b.root_virtual_size ?? 0, base.virtualSize), {
                path: base.path,
                format: 'qcow2',
              });
            } else {
              const info = await c.qemuImg.info(p.root, 'qcow2');
              if (info.dataFile) throw new Error('the received root disk names an external data file');
              await c.qemuImg.rebaseUnsafe(p.root, { path: base.path, format: 'qcow2' });
              const want = (b.root_gb ?? 0) * GiB;
              if (want > info.virtualSize) await c.qemuImg.resize(p.root, 'qcow2', want);
            }
          } catch (e) {
            throw stepFailed('MigrationPrepareFailed', b.mode === 'live' ? 'create root disk' : 'adopt root disk', e);
          }
        }
        for (const v of b.volumes) {
          await dev.ensureChapSecret(c, v.connection, r).catch((e) => {
            throw stepFailed('MigrationPrepareFailed', `define the CHAP secret of volume ${v.volume_id}`, e);
          });
        }
        r.success();
        return { instance_dir: p.dir, console_host: c.consoleHost, fetched_bytes: fetched, fetch_ms: fetchMs };
      } catch (e) {
        await r.revert();
        throw e;
      }
    });
  }

  // ── the source ───────────────────────────────────────────────────────────────────────

  liveMigrate(b: BodyOf<typeof LiveMigrate>) {
    return this.serial(b.uuid, async () => {
      const c = this.c;
      const uuid = b.uuid.toLowerCase();
      const dom = await mustLookup(c, uuid);
      const s = await virState(dom);
      if (s !== VIR.RUNNING && s !== VIR.PAUSED && s !== VIR.BLOCKED)
        throw new InvalidState(`Instance ${uuid} is not running: it cannot be live-migrated.`);
      const p = paths(c, uuid);
      const xml = await c.virsh.dumpxmlMigratable(uuid);
      const chapUsers = Object.fromEntries(b.volumes.filter((v) => v.auth_username).map((v) => [v.volume_id, v.auth_username!]));
      const destXml = destinationXml(xml, {
        fromDir: p.dir,
        toDir: b.dest.instance_dir,
        consoleHost: b.dest.console_host,
        chapUsers,
      });
      const root = targetOfFile(xml, p.root);
      if (b.copy_storage !== 'none' && !root) throw new MigrationFailed(`Instance ${uuid} has no local root disk to copy.`);
      if (b.max_downtime_ms) await c.virsh.migrateSetMaxDowntime(uuid, b.max_downtime_ms).catch(() => {});
      const job = { aborted: false, last: null as MigrationStats | null };
      this.running.set(uuid, job);
      const t0 = performance.now();
      // Samples the job while it runs: the last one is the reply's figures.
      const poll = setInterval(() => {
        void c.virsh
          .domjobinfo(uuid)
          .then((j) => {
            if (j) job.last = statsOf(j);
          })
          .catch(() => {});
      }, 500);
      const timer = b.timeout_s
        ? setTimeout(() => {
            job.aborted = true;
            void c.virsh.domjobabort(uuid).catch(() => {});
          }, b.timeout_s * 1000)
        : null;
      const addr = b.dest.address.includes(':') ? `[${b.dest.address}]` : b.dest.address;
      try {
        await dev.withTempFile(c, 'migrate.xml', destXml, (f) =>
          c.virsh.migrate(uuid, {
            destUri: `qemu+tls://${addr}/system`,
            dataUri: `tcp://${addr}`,
            xmlFile: f,
            copyStorage: b.copy_storage,
            migrateDisks: root ? [root] : [],
            timeoutMs: (b.timeout_s ?? 24 * 3600) * 1000 + 120_000,
          }),
        );
      } catch (e) {
        const words = e instanceof ToolError ? e.stderrTail.replace(/^error:\s*/i, '') : (e as Error).message;
        if (job.aborted) throw new MigrationFailed(`The live migration was aborted: ${words}`, 'MigrationAborted');
        throw new MigrationFailed(`virsh migrate: ${words}`);
      } finally {
        clearInterval(poll);
        if (timer) clearTimeout(timer);
        this.running.delete(uuid);
      }
      // The domain is the destination's now (undefined here): its figures were sampled above.
      return { ms: Math.round(performance.now() - t0), stats: job.last };
    });
  }

  /**
   * The migration job of an instance. One this process did not start (it was restarted
   * while libvirtd went on migrating: QEMU, libvirtd and `virsh migrate` outlive the
   * agent) is libvirt's: any job libvirt reports on the domain. Answers running: false
   * only when libvirt says no job runs (or the domain is not here).
   */
  async progress(uuid: string): Promise<{ running: boolean; stats: MigrationStats | null }> {
    const job = this.running.get(uuid.toLowerCase());
    if (!job) {
      if (!(await this.c.conn.lookup(uuid))) return { running: false, stats: null };
      const j = await this.c.virsh.domjobinfo(uuid);
      return j ? { running: true, stats: statsOf(j) } : { running: false, stats: null };
    }
    const j = await this.c.virsh.domjobinfo(uuid).catch(() => null);
    if (j) job.last = statsOf(j);
    return { running: true, stats: job.last };
  }

  async abort(uuid: string): Promise<boolean> {
    const job = this.running.get(uuid.toLowerCase());
    if (!job && !(await this.progress(uuid)).running) return false;
    if (job) job.aborted = true;
    try {
      await this.c.virsh.domjobabort(uuid);
      return true;
    } catch (e) {
      if (e instanceof VirshError && (e.invalidState || e.notFound)) return false;
      throw stepFailed('HypervisorError', 'abort the migration job', e);
    }
  }

  async forceComplete(uuid: string): Promise<boolean> {
    if (!this.running.has(uuid.toLowerCase())) throw new InvalidState(`No live migration of instance ${uuid} is running here.`);
    try {
      await this.c.virsh.suspend(uuid);
      return true;
    } catch (e) {
      throw stepFailed('HypervisorError', 'pause the guest to complete the migration', e);
    }
  }

  // ── either side ──────────────────────────────────────────────────────────────────────

  cleanup(uuid: string, volumeIds: string[], keepRunning: boolean) {
    return this.serial(uuid, async () => {
      const c = this.c;
      const p = paths(c, uuid);
      let domain = false;
      const dom = await c.conn.lookup(uuid);
      if (dom) {
        const s = await virState(dom).catch(() => VIR.SHUTOFF);
        if (keepRunning && (s === VIR.RUNNING || s === VIR.PAUSED || s === VIR.BLOCKED))
          throw new InvalidState(`Instance ${uuid} runs on this host: it is not cleaned up.`);
        try {
          await dom.destroy();
        } catch (e) {
          if (!isInvalidOperation(e) && !isNoDomain(e)) throw stepFailed('HypervisorError', 'destroy domain', e);
        }
        try {
          await c.virsh.undefine(uuid);
        } catch (e) {
          if (!(e instanceof VirshError && e.notFound)) throw stepFailed('HypervisorError', 'undefine domain', e);
        }
        domain = true;
      }
      for (const v of volumeIds) await c.virsh.secretUndefine(volumeSecret(v).uuid);
      const files = await stat(p.dir).then(
        () => true,
        () => false,
      );
      await rm(p.dir, { recursive: true, force: true });
      for (const [t, o] of this.offers) if (o.uuid === uuid.toLowerCase()) this.offers.delete(t);
      return { domain, files };
    });
  }
}

/** Streams an offered file (the transfer route's body). */
export function openOffered(path: string): Readable {
  return createReadStream(path);
}

export const isCloudError = (e: unknown): e is CloudError => e instanceof CloudError;
