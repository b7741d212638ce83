import {
  PowerState,
  tapName,
  type HostCapabilities,
  type InstanceSpec,
  type InstanceState,
  type IscsiConnectionInfo,
  type VifSpec,
} from '../../shared/agent/compute.js';
import { nextVirtioTarget } from './domain-read.js';
import type { CachedImage, HypervisorDriver, SnapshotResult, SnapshotTarget, SpawnResult } from './driver.js';
import { BadSpec, HypervisorFault, InstanceExists, InstanceNotFound, InvalidState } from './errors.js';

interface FakeInstance {
  spec: InstanceSpec;
  power: 'running' | 'paused' | 'shut off';
  saved: boolean;
  volumes: Record<string, string>;
  ports: string[];
  console: string;
}

/**
 * In-memory HypervisorDriver with the same state rules and errors as LibvirtDriver:
 * used by contract tests (every descriptor answered through the real routes) and by
 * controller tests and benchmarks that need no hypervisor (compute.driver = "fake").
 * `failNextSpawn(message)` makes the next spawn fail like a real step failure.
 * `delayMs` (agent.toml compute.fake_delay_ms) makes each spawn and volume attach take
 * that long, like a boot or a hot-plug, so that tests can catch them in flight.
 */
export class FakeHypervisor implements HypervisorDriver {
  readonly instances = new Map<string, FakeInstance>();
  readonly images = new Map<string, { size: number; lastUsed: string }>();
  private failure: string | null = null;

  constructor(
    private readonly caps: Partial<HostCapabilities> = {},
    private readonly delayMs = 0,
  ) {}

  failNextSpawn(message: string): void {
    this.failure = message;
  }

  private must(uuid: string): FakeInstance {
    const i = this.instances.get(uuid.toLowerCase());
    if (!i) throw new InstanceNotFound(uuid);
    return i;
  }

  private state(uuid: string, i: FakeInstance): InstanceState {
    const power_state =
      i.power === 'running' ? PowerState.RUNNING : i.power === 'paused' ? PowerState.PAUSED : PowerState.SHUTDOWN;
    return {
      uuid: uuid.toLowerCase(),
      power_state,
      state: i.power,
      suspended_to_disk: i.saved,
      vcpus: i.spec.vcpus,
      memory_mb: i.spec.memory_mb,
      cpu_time_ns: i.power === 'shut off' ? 0 : 1_000_000,
      volumes: { ...i.volumes },
      ports: [...i.ports],
    };
  }

  async init(): Promise<HostCapabilities> {
    return this.hostResources();
  }

  async hostResources(): Promise<HostCapabilities> {
    const active = [...this.instances.values()].filter((i) => i.power !== 'shut off');
    return {
      hypervisor_type: 'QEMU',
      hypervisor_version: 7002022,
      virt_type: 'qemu',
      cpu_arch: 'x86_64',
      vcpus: 16,
      memory_mb: 32768,
      disk_gb: 500,
      vcpus_used: active.reduce((s, i) => s + i.spec.vcpus, 0),
      memory_mb_used: active.reduce((s, i) => s + i.spec.memory_mb, 0),
      disk_gb_used: [...this.instances.values()].reduce((s, i) => s + i.spec.root_gb, 0),
      running_vms: active.length,
      console_host: '127.0.0.1',
      ...this.caps,
    };
  }

  async list() {
    return {
      instances: [...this.instances.entries()].map(([u, i]) => this.state(u, i)),
      unreadable: [] as string[],
      orphans: [] as string[],
    };
  }

  async get(uuid: string) {
    const i = this.instances.get(uuid.toLowerCase());
    return i ? this.state(uuid, i) : null;
  }

  async spawn(spec: InstanceSpec): Promise<SpawnResult> {
    const t0 = performance.now();
    const uuid = spec.uuid.toLowerCase();
    if (!spec.image === !spec.boot_volume) throw new BadSpec('exactly one of image and boot_volume must be given');
    if (this.instances.has(uuid)) throw new InstanceExists(uuid);
    if (this.failure) {
      const m = this.failure;
      this.failure = null;
      throw new HypervisorFault('SpawnFailed', m);
    }
    const cached = spec.image ? this.images.has(spec.image.id) : false;
    if (spec.image) this.images.set(spec.image.id, { size: 16 << 20, lastUsed: new Date().toISOString() });
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const i: FakeInstance = {
      spec,
      power: 'running',
      saved: false,
      volumes: {},
      ports: spec.nics.map((n) => n.port_id),
      console: `fake console of ${spec.hostname}\nHOMESTACK-GUEST-UP hostname=${spec.hostname}\n`,
    };
    if (spec.boot_volume) i.volumes[spec.boot_volume.volume_id] = 'vda';
    this.instances.set(uuid, i);
    const total = Math.round((performance.now() - t0) * 10) / 10;
    return {
      instance: this.state(uuid, i),
      timings: {
        image_ms: 0,
        disk_ms: 0,
        config_drive_ms: 0,
        define_ms: 0,
        libvirt_start_ms: this.delayMs,
        total_ms: total,
      },
      imageCached: cached,
    };
  }

  async destroy(uuid: string): Promise<boolean> {
    return this.instances.delete(uuid.toLowerCase());
  }

  async powerOn(uuid: string) {
    const i = this.must(uuid);
    if (i.power === 'shut off') {
      i.power = 'running';
      i.saved = false;
    }
    return this.state(uuid, i);
  }

  async powerOff(uuid: string, _o?: { timeoutSec: number }) {
    const i = this.must(uuid);
    const forced = i.power === 'paused';
    i.power = 'shut off';
    return { instance: this.state(uuid, i), forced };
  }

  async reboot(uuid: string) {
    const i = this.must(uuid);
    i.power = 'running';
    i.saved = false;
    i.console += `HOMESTACK-GUEST-UP hostname=${i.spec.hostname}\n`;
    return this.state(uuid, i);
  }

  async pause(uuid: string) {
    const i = this.must(uuid);
    if (i.power === 'shut off') throw new InvalidState(`Instance ${uuid} is not running; it cannot be paused.`);
    i.power = 'paused';
    return this.state(uuid, i);
  }

  async unpause(uuid: string) {
    const i = this.must(uuid);
    if (i.power === 'shut off') throw new InvalidState(`Instance ${uuid} is not paused; it cannot be unpaused.`);
    i.power = 'running';
    return this.state(uuid, i);
  }

  async suspend(uuid: string) {
    const i = this.must(uuid);
    if (i.power === 'shut off' && !i.saved) throw new InvalidState(`Instance ${uuid} is shut off; it cannot be suspended.`);
    i.power = 'shut off';
    i.saved = true;
    return this.state(uuid, i);
  }

  async resume(uuid: string) {
    const i = this.must(uuid);
    if (i.power !== 'shut off') return this.state(uuid, i);
    if (!i.saved) throw new InvalidState(`Instance ${uuid} is not suspended; it cannot be resumed.`);
    i.power = 'running';
    i.saved = false;
    return this.state(uuid, i);
  }

  async snapshot(uuid: string, _t: SnapshotTarget): Promise<SnapshotResult> {
    this.must(uuid);
    return { size: 1024, checksum: '0f343b0931126a20f133d67c2b018a3b', pausedMs: 0 };
  }

  async attachVolume(uuid: string, c: IscsiConnectionInfo, device: string | null): Promise<string> {
    this.must(uuid);
    if (this.delayMs) await new Promise((r) => setTimeout(r, this.delayMs));
    const i = this.must(uuid);
    const have = i.volumes[c.data.volume_id];
    if (have) return `/dev/${have}`;
    const used = ['vda', ...Object.values(i.volumes)];
    const want = device?.replace(/^\/dev\//, '');
    const t = want && !used.includes(want) ? want : nextVirtioTarget(used);
    i.volumes[c.data.volume_id] = t;
    return `/dev/${t}`;
  }

  async detachVolume(uuid: string, volumeId: string): Promise<boolean> {
    const i = this.must(uuid);
    const had = volumeId in i.volumes;
    delete i.volumes[volumeId];
    return had;
  }

  async plugVif(uuid: string, vif: VifSpec): Promise<string> {
    const i = this.must(uuid);
    if (!i.ports.includes(vif.port_id)) i.ports.push(vif.port_id);
    return tapName(vif.port_id);
  }

  async unplugVif(uuid: string, portId: string): Promise<boolean> {
    const i = this.must(uuid);
    const had = i.ports.includes(portId);
    i.ports = i.ports.filter((p) => p !== portId);
    return had;
  }

  async consoleLog(uuid: string, maxBytes: number) {
    const buf = Buffer.from(this.must(uuid).console);
    return { output: buf.subarray(Math.max(0, buf.length - maxBytes)).toString(), truncated: buf.length > maxBytes };
  }

  async vncConsole(uuid: string) {
    const i = this.must(uuid);
    if (i.power === 'shut off') throw new InvalidState(`Instance ${uuid} has no VNC display (it is not running).`);
    return { host: '127.0.0.1', port: 5900 };
  }

  async cachedImages(): Promise<CachedImage[]> {
    return [...this.images.entries()].map(([id, v]) => ({
      imageId: id,
      size: v.size,
      lastUsed: v.lastUsed,
      usedBy: [...this.instances.entries()].filter(([, i]) => i.spec.image?.id === id).map(([u]) => u),
    }));
  }

  async evictImage(imageId: string): Promise<boolean> {
    if ([...this.instances.values()].some((i) => i.spec.image?.id === imageId))
      throw new InvalidState(`Image ${imageId} is in use.`);
    return this.images.delete(imageId);
  }

  async close(): Promise<void> {}
}
