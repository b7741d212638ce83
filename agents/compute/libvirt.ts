import { ConnectListAllDomainsFlags } from '@unraid/libvirt';
import { access, chmod, chown, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Dispatcher } from 'undici';
import type { HostCapabilities, InstanceSpec, InstanceState, IscsiConnectionInfo, VifSpec } from '../../shared/agent/compute.js';
import type { Runner } from '../../shared/exec/run.js';
import { isofs, type IsoTool } from '../../shared/tools/isofs.js';
import { qemuImg, type QemuImg } from '../../shared/tools/qemu-img.js';
import { VirshError, virsh } from '../../shared/tools/virsh.js';
import { Reverter } from '../../shared/util/reverter.js';
import { configDriveFiles, writeConfigDrive } from './config-drive.js';
import { readConsoleTail } from './console-log.js';
import { AGENT_VERSION } from '../host/version.js';
import { buildDomainXml, GUEST_SYSINFO, type DiskBus, type DomainDisk } from './domain-xml.js';
import { readDomainXml } from './domain-read.js';
import type { CachedImage, HypervisorDriver, SnapshotResult, SnapshotTarget, SpawnResult } from './driver.js';
import { BadSpec, InstanceExists, InstanceNotFound, InvalidState, stepFailed } from './errors.js';
import { cpuCount, diskGb, readCpuinfo, resolveVirtType } from './host-info.js';
import { ImageCache } from './image-cache.js';
import { isInvalidOperation, isNoDomain, LibvirtConn } from './libvirt-conn.js';
import { factsOf, mustLookup, paths, stateOfDomain, UUID_RE, volumeSecret, type LibvirtCtx } from './libvirt-ctx.js';
import * as dev from './libvirt-devices.js';
import * as power from './libvirt-power.js';
import { snapshot } from './libvirt-snapshot.js';
import { toInstanceState, VIR } from './libvirt-state.js';
import { LibvirtMigration } from './libvirt-migrate.js';

/**
 * HypervisorDriver on libvirt/QEMU. This file: lifecycle (init, spawn, destroy),
 * listing and read-only queries. Power operations: libvirt-power.ts; volumes and NICs:
 * libvirt-devices.ts; snapshots: libvirt-snapshot.ts; the connection and the split
 * between @unraid/libvirt and virsh: libvirt-conn.ts.
 */

export interface LibvirtDriverOptions {
  uri: string;
  virtType: 'auto' | 'kvm' | 'qemu';
  instancesDir: string;
  imagesDir: string;
  consoleHost: string;
  reservedMemoryMb: number;
  isoTool: IsoTool;
  run: Runner;
  /** undici dispatcher for image downloads and snapshot uploads (tests). */
  dispatcher?: Dispatcher;
  log?: LibvirtCtx['log'];
  /** Reads /proc/cpuinfo (tests replace it). */
  cpuinfo?: () => Promise<string>;
}

const GiB = 1024 ** 3;
const noLog = { info() {}, warn() {} };

export class LibvirtDriver implements HypervisorDriver {
  private readonly c: LibvirtCtx;
  private readonly qimg: QemuImg;
  readonly migration: LibvirtMigration;
  private hv = { type: 'QEMU', version: 0 };

  constructor(private readonly o: LibvirtDriverOptions) {
    this.qimg = qemuImg(o.run);
    this.c = {
      conn: new LibvirtConn(o.uri),
      virsh: virsh(o.run, { uri: o.uri }),
      qemuImg: this.qimg,
      cache: new ImageCache({ dir: o.imagesDir, qemuImg: this.qimg, dispatcher: o.dispatcher }),
      run: o.run,
      instancesDir: o.instancesDir,
      tmpDir: join(o.instancesDir, '.tmp'),
      virtType: o.virtType === 'kvm' ? 'kvm' : 'qemu',
      consoleHost: o.consoleHost,
      log: o.log ?? noLog,
    };
    this.migration = new LibvirtMigration(this.c, (uuid, fn) => this.serial(uuid, fn), o.dispatcher);
  }

  async init(): Promise<HostCapabilities> {
    const cpuinfo = await (this.o.cpuinfo ?? readCpuinfo)();
    const devKvm = await access('/dev/kvm').then(
      () => true,
      () => false,
    );
    this.c.virtType = resolveVirtType(this.o.virtType, cpuinfo, devKvm);
    if (this.o.virtType === 'kvm' && !devKvm) throw new Error('virt_type = kvm but /dev/kvm does not exist');
    // With /dev/kvm present but closed to the qemu user (0600 root, no udev rule),
    // libvirt 9 finds its QEMU capability cache "KVM enabled when probing, but not
    // available now" and re-probes QEMU on every define/start (~30 s each under load).
    // Debian's udev rule makes it root:kvm 0660; say so instead of failing.
    const kvmMode = devKvm ? (await stat('/dev/kvm')).mode : 0;
    if (devKvm && (kvmMode & 0o060) !== 0o060 && (kvmMode & 0o006) !== 0o006) {
      this.c.log.warn(
        { mode: (kvmMode & 0o777).toString(8) },
        '/dev/kvm is not group-accessible: libvirt will re-probe QEMU on every call (fix: chgrp kvm /dev/kvm; chmod 660 /dev/kvm)',
      );
    }
    // QEMU runs as libvirt-qemu (DAC): it must be able to traverse to the disks.
    for (const d of [this.o.instancesDir, this.o.imagesDir]) {
      await mkdir(d, { recursive: true, mode: 0o755 });
      await chmod(d, 0o755);
      await this.openPathForQemu(dirname(d));
    }
    await mkdir(this.c.tmpDir, { recursive: true, mode: 0o700 });
    await this.c.conn.with((hv) => hv.nodeGetInfo());
    const v = await this.c.virsh.version();
    this.hv = { type: v.hypervisor, version: v.version };
    await this.o.run('qemu-img', ['--version'], { timeoutMs: 10_000 });
    const swept = await this.c.cache.sweep();
    if (swept) this.c.log.info({ swept }, 'removed partial image downloads');
    return this.hostResources(cpuCount(cpuinfo));
  }

  /**
   * Ancestors that QEMU's user cannot traverse (e.g. the agent's data_dir, created
   * 0700) get group libvirt-qemu with search permission only (g+x): QEMU can reach its
   * disks, nobody else gains anything, and nothing becomes listable.
   */
  private async openPathForQemu(dir: string): Promise<void> {
    const gid = Number(/^libvirt-qemu:[^:]*:(\d+):/m.exec(await readFile('/etc/group', 'utf8').catch(() => ''))?.[1] ?? NaN);
    const chain: string[] = [];
    for (let d = resolve(dir); ; d = dirname(d)) {
      chain.push(d);
      if (d === dirname(d)) break;
    }
    for (const d of chain.reverse()) {
      const st = await stat(d).catch(() => null);
      if (!st || st.mode & 0o001 || (st.gid === gid && st.mode & 0o010)) continue;
      if (!Number.isFinite(gid) || st.gid !== 0) {
        this.c.log.warn({ dir: d }, 'QEMU (libvirt-qemu) cannot traverse this directory to reach instance disks');
        continue;
      }
      await chown(d, st.uid, gid);
      await chmod(d, (st.mode & 0o7777) | 0o010);
      this.c.log.info({ dir: d }, 'gave group libvirt-qemu search permission so QEMU can reach instance disks');
    }
  }

  async hostResources(cpus?: number): Promise<HostCapabilities> {
    const node = await this.c.conn.with((hv) => hv.nodeGetInfo());
    const doms = await this.c.conn.with((hv) => hv.connectListAllDomains(ConnectListAllDomainsFlags.ACTIVE));
    let vcpusUsed = 0;
    let memUsed = 0;
    for (const d of doms) {
      const info = await d.getInfo().catch(() => null);
      if (!info) continue;
      vcpusUsed += info.nrVirtCpu;
      memUsed += Math.round(info.maxMem / 1024);
    }
    const disk = await diskGb(this.o.instancesDir);
    const memTotal = Math.max(0, Math.floor(node.memory / 1024) - this.o.reservedMemoryMb);
    return {
      hypervisor_type: this.hv.type,
      hypervisor_version: this.hv.version,
      virt_type: this.c.virtType,
      cpu_arch: node.model || 'x86_64',
      vcpus: cpus ?? node.cpus,
      memory_mb: memTotal,
      disk_gb: disk.totalGb,
      vcpus_used: vcpusUsed,
      memory_mb_used: memUsed,
      disk_gb_used: Math.max(0, disk.totalGb - disk.freeGb),
      running_vms: doms.length,
      console_host: this.o.consoleHost,
    };
  }

  async list(): Promise<{ instances: InstanceState[]; unreadable: string[]; orphans: string[] }> {
    const all = await this.c.conn.with((hv) => hv.connectListAllDomains());
    const saved = new Set<string>();
    for (const d of await this.c.conn.with((hv) => hv.connectListAllDomains(ConnectListAllDomainsFlags.MANAGEDSAVE))) {
      saved.add((await d.getUUIDString()).toLowerCase());
    }
    const instances: InstanceState[] = [];
    const unreadable: string[] = [];
    const domainUuids = new Set<string>();
    for (const d of all) domainUuids.add((await d.getUUIDString().catch(() => '')).toLowerCase());
    for (const d of all) {
      let uuid = '?';
      try {
        uuid = (await d.getUUIDString()).toLowerCase();
        const facts = readDomainXml(await d.getXMLDesc());
        if (!facts.homestackUuid) continue;
        const info = await d.getInfo();
        instances.push(toInstanceState(uuid, info as never, facts, saved.has(uuid)));
      } catch (e) {
        if (isNoDomain(e)) continue; // vanished while listing
        unreadable.push(uuid);
        this.c.log.warn({ uuid, err: String(e) }, 'domain state unreadable');
      }
    }
    const dirs = await readdir(this.o.instancesDir).catch(() => [] as string[]);
    const orphans = dirs.filter((n) => UUID_RE.test(n) && !domainUuids.has(n) && !this.locks.has(n));
    return { instances, unreadable, orphans };
  }

  async get(uuid: string): Promise<InstanceState | null> {
    const dom = await this.c.conn.lookup(uuid);
    if (!dom) return null;
    try {
      return await stateOfDomain(this.c, uuid, dom);
    } catch (e) {
      if (isNoDomain(e)) return null;
      throw e;
    }
  }

  /**
   * Operations on one instance run one at a time, in arrival order (Nova's per-instance
   * lock): a destroy arriving during a spawn waits for it, and two spawns of one uuid
   * cannot both pass the "already exists" check.
   */
  private readonly locks = new Map<string, Promise<unknown>>();
  private serial<T>(uuid: string, fn: () => Promise<T>): Promise<T> {
    const key = uuid.toLowerCase();
    const prev = this.locks.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.locks.set(key, tail);
    void tail.then(() => {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    });
    return next;
  }

  spawn(spec: InstanceSpec): Promise<SpawnResult> {
    return this.serial(spec.uuid, () => this.spawnNow(spec));
  }

  private async spawnNow(spec: InstanceSpec): Promise<SpawnResult> {
    const t0 = performance.now();
    const uuid = spec.uuid.toLowerCase();
    if (!spec.image === !spec.boot_volume) throw new BadSpec('exactly one of image and boot_volume must be given');
    if (await this.c.conn.lookup(uuid)) throw new InstanceExists(uuid);
    const p = paths(this.c, uuid);
    const timings = { image_ms: 0, disk_ms: 0, config_drive_ms: 0, define_ms: 0, libvirt_start_ms: 0, total_ms: 0 };
    const r = new Reverter();
    let step = 'create instance directory';
    let imageCached = false;
    const since = (t: number) => Math.round((performance.now() - t) * 10) / 10;
    /** Runs one step; its failure carries the step's name. */
    const stepRun = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        throw e instanceof BadSpec || e instanceof InstanceExists ? e : stepFailed('SpawnFailed', name, e);
      }
    };
    try {
      const existing = spec.root_disk === 'existing';
      if (existing) {
        // The root disk came from the source host (compute.migration_prepare).
        if (!spec.image) throw new BadSpec('root_disk existing needs the image the disk is an overlay of');
        await access(p.root).catch(() => {
          throw new BadSpec(`root_disk existing: instance ${uuid} has no root disk on this host`);
        });
      } else {
        await rm(p.dir, { recursive: true, force: true }); // leftover of an earlier failed destroy
      }
      await mkdir(p.dir, { recursive: true, mode: 0o755 });
      r.add('remove instance directory', () => rm(p.dir, { recursive: true, force: true }));
      const bus: DiskBus = spec.virt?.disk_bus ?? 'virtio';
      const rootTarget = { virtio: 'vda', scsi: 'sda', sata: 'sda', ide: 'hda' }[bus];
      // The config drive does not depend on the image: build it while the root disk is made.
      const cdT0 = performance.now();
      const configDrive = spec.config_drive
        ? stepRun('build config drive', () =>
            writeConfigDrive(p.configDrive, configDriveFiles(spec.config_drive!), isofs(this.o.run, this.o.isoTool)),
          ).then(() => {
            timings.config_drive_ms = since(cdT0);
          })
        : Promise.resolve();
      const root = (async (): Promise<DomainDisk> => {
        if (!spec.image) {
          const t = performance.now();
          const auth = await stepRun(`connect boot volume ${spec.boot_volume!.volume_id}`, () =>
            dev.ensureChapSecret(this.c, spec.boot_volume!.connection, r),
          );
          timings.disk_ms = since(t);
          return dev.iscsiDisk(spec.boot_volume!.connection, 'vda', auth);
        }
        let t = performance.now();
        const base = await stepRun(`fetch image ${spec.image.id}`, () => this.c.cache.ensure(spec.image!));
        imageCached = base.cached;
        timings.image_ms = since(t);
        t = performance.now();
        if (existing) return { kind: 'file', path: p.root, format: 'qcow2', device: 'disk', bus, target: rootTarget };
        const want = spec.root_gb * GiB;
        if (want && want < base.virtualSize) {
          throw new BadSpec(
            `root disk of ${spec.root_gb} GiB is smaller than the image's virtual size (${base.virtualSize} bytes)`,
          );
        }
        await stepRun('create root disk', () =>
          this.qimg.create(p.root, 'qcow2', Math.max(want, base.virtualSize), { path: base.path, format: 'qcow2' }),
        );
        timings.disk_ms = since(t);
        return { kind: 'file', path: p.root, format: 'qcow2', device: 'disk', bus, target: rootTarget };
      })();
      const [rootRes, cdRes] = await Promise.allSettled([root, configDrive]);
      if (rootRes.status === 'rejected') throw rootRes.reason;
      if (cdRes.status === 'rejected') throw cdRes.reason;
      const disks: DomainDisk[] = [rootRes.value];
      for (const v of spec.volumes ?? []) {
        const auth = await stepRun(`connect volume ${v.volume_id}`, () => dev.ensureChapSecret(this.c, v.connection, r));
        disks.push(dev.iscsiDisk(v.connection, v.device.replace(/^\/dev\//, ''), auth));
      }
      if (spec.config_drive) {
        const asDisk = spec.virt?.config_drive_device === 'disk';
        const machine = spec.virt?.machine ?? 'pc';
        disks.push(
          asDisk
            ? { kind: 'file', path: p.configDrive, format: 'raw', device: 'disk', bus: 'virtio', target: 'vdz', readonly: true }
            : {
                kind: 'file',
                path: p.configDrive,
                format: 'raw',
                device: 'cdrom',
                ...(/^pc(-i440fx.*)?$/.test(machine)
                  ? { bus: 'ide' as const, target: 'hdd' }
                  : { bus: 'sata' as const, target: 'sdz' }),
                readonly: true,
              },
        );
      }
      let mark = performance.now();
      const lap = () => {
        const d = since(mark);
        mark = performance.now();
        return d;
      };
      step = 'define domain';
      await writeFile(
        p.info,
        JSON.stringify({
          uuid,
          image_id: spec.image?.id ?? null,
          boot_volume: spec.boot_volume?.volume_id ?? null,
          created_at: new Date().toISOString(),
        }),
      );
      const xml = buildDomainXml({
        uuid,
        title: spec.name,
        virtType: this.c.virtType,
        machine: spec.virt?.machine ?? 'pc',
        arch: 'x86_64',
        vcpus: spec.vcpus,
        memoryMb: spec.memory_mb,
        cpuMode: spec.virt?.cpu_mode ?? 'host-model',
        disks,
        nics: spec.nics.map(dev.nicOf),
        consoleLog: p.consoleLog,
        vncListen: this.o.consoleHost,
        meta: { projectId: spec.project_id, createdAt: new Date().toISOString() },
        sysinfo: { ...GUEST_SYSINFO, version: AGENT_VERSION, serial: uuid },
      });
      const dom = await this.c.conn.with((hv) => hv.domainDefineXML(xml));
      r.add('undefine domain', () =>
        this.c.virsh.undefine(uuid).catch((e: unknown) => {
          if (!(e instanceof VirshError && e.notFound)) throw e;
        }),
      );
      timings.define_ms = lap();
      step = 'start domain';
      await dom.create();
      r.add('destroy domain', () => dom.destroy().catch(() => {}));
      timings.libvirt_start_ms = lap();
      const instance = await stateOfDomain(this.c, uuid, dom);
      r.success();
      timings.total_ms = Math.round((performance.now() - t0) * 10) / 10;
      this.c.log.info({ uuid, timings, imageCached }, 'spawned');
      return { instance, timings, imageCached };
    } catch (e) {
      const errs = await r.revert();
      if (errs.length)
        this.c.log.warn({ uuid, errors: errs.map((x) => `${x.what}: ${String(x.error)}`) }, 'spawn cleanup incomplete');
      if (e instanceof BadSpec || e instanceof InstanceExists) throw e;
      throw stepFailed('SpawnFailed', step, e);
    }
  }

  destroy(uuid: string, o: { deleteDisks: boolean }): Promise<boolean> {
    return this.serial(uuid, () => this.destroyNow(uuid, o));
  }

  private async destroyNow(uuid: string, o: { deleteDisks: boolean }): Promise<boolean> {
    const p = paths(this.c, uuid);
    const dom = await this.c.conn.lookup(uuid);
    if (dom) {
      const facts = await factsOf(dom).catch(() => null);
      try {
        await dom.destroy();
      } catch (e) {
        if (!isInvalidOperation(e) && !isNoDomain(e)) throw stepFailed('HypervisorError', 'destroy domain', e);
      }
      try {
        await this.c.virsh.undefine(uuid);
      } catch (e) {
        if (!(e instanceof VirshError && e.notFound)) throw stepFailed('HypervisorError', 'undefine domain', e);
      }
      for (const volumeId of Object.keys(facts?.volumeSecrets ?? {}))
        await this.c.virsh.secretUndefine(volumeSecret(volumeId).uuid);
    }
    if (o.deleteDisks) await rm(p.dir, { recursive: true, force: true });
    return Boolean(dom);
  }

  powerOn = (uuid: string) => this.serial(uuid, () => power.powerOn(this.c, uuid));
  powerOff = (uuid: string, o: { timeoutSec: number }) => this.serial(uuid, () => power.powerOff(this.c, uuid, o.timeoutSec));
  reboot = (uuid: string, o: { hard: boolean; timeoutSec?: number }) =>
    this.serial(uuid, () => power.reboot(this.c, uuid, o.hard, o.timeoutSec));
  pause = (uuid: string) => this.serial(uuid, () => power.pause(this.c, uuid));
  unpause = (uuid: string) => this.serial(uuid, () => power.unpause(this.c, uuid));
  suspend = (uuid: string) => this.serial(uuid, () => power.suspend(this.c, uuid));
  resume = (uuid: string) => this.serial(uuid, () => power.resume(this.c, uuid));
  snapshot = (uuid: string, t: SnapshotTarget): Promise<SnapshotResult> =>
    this.serial(uuid, () => snapshot(this.c, uuid, t, this.o.dispatcher));
  attachVolume = (uuid: string, c: IscsiConnectionInfo, device: string | null) =>
    this.serial(uuid, () => dev.attachVolume(this.c, uuid, c, device));
  detachVolume = (uuid: string, volumeId: string) => this.serial(uuid, () => dev.detachVolume(this.c, uuid, volumeId));
  plugVif = (uuid: string, vif: VifSpec) => this.serial(uuid, () => dev.plugVif(this.c, uuid, vif));
  unplugVif = (uuid: string, portId: string) => this.serial(uuid, () => dev.unplugVif(this.c, uuid, portId));

  injectNmi = (uuid: string) =>
    this.serial(uuid, async () => {
      const dom = await mustLookup(this.c, uuid);
      const s = (await dom.getInfo()).state as number;
      if (s !== VIR.RUNNING && s !== VIR.PAUSED && s !== VIR.BLOCKED) throw new InvalidState(`Instance ${uuid} is not running.`);
      await this.c.virsh.injectNmi(uuid).catch((e) => {
        throw stepFailed('HypervisorError', 'inject an NMI', e);
      });
    });

  async consoleLog(uuid: string, maxBytes: number): Promise<{ output: string; truncated: boolean }> {
    const dom = await mustLookup(this.c, uuid);
    const facts = await factsOf(dom);
    return readConsoleTail(facts.consoleLog ?? paths(this.c, uuid).consoleLog, maxBytes);
  }

  async vncConsole(uuid: string): Promise<{ host: string; port: number }> {
    const dom = await mustLookup(this.c, uuid);
    const s = (await dom.getInfo()).state as number;
    const facts = await factsOf(dom);
    if ((s !== VIR.RUNNING && s !== VIR.PAUSED && s !== VIR.BLOCKED) || !facts.vnc) {
      throw new InvalidState(`Instance ${uuid} has no VNC display (it is not running).`);
    }
    return { host: facts.vnc.listen, port: facts.vnc.port };
  }

  /** image id → instance uuids whose instance.json names it. */
  private async imageUsers(): Promise<Map<string, string[]>> {
    const users = new Map<string, string[]>();
    const names = await readdir(this.o.instancesDir).catch(() => [] as string[]);
    for (const n of names) {
      const j = await readFile(join(this.o.instancesDir, n, 'instance.json'), 'utf8').then(
        (t) => JSON.parse(t) as { image_id?: string },
        () => null,
      );
      if (j?.image_id) users.set(j.image_id, [...(users.get(j.image_id) ?? []), n]);
    }
    return users;
  }

  async cachedImages(): Promise<CachedImage[]> {
    const users = await this.imageUsers();
    return (await this.c.cache.list()).map((i) => ({
      imageId: i.imageId,
      size: i.size,
      lastUsed: i.lastUsed.toISOString(),
      usedBy: users.get(i.imageId) ?? [],
    }));
  }

  async evictImage(imageId: string): Promise<boolean> {
    const used = (await this.imageUsers()).get(imageId);
    if (used?.length) throw new InvalidState(`Image ${imageId} backs the disks of ${used.join(', ')}; it cannot be evicted.`);
    return this.c.cache.evict(imageId);
  }

  async close(): Promise<void> {
    await this.c.conn.close();
  }
}

export { InstanceNotFound };
