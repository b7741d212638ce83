import {
  AttachVolume,
  ConsoleLog,
  DestroyInstance,
  VncConsole,
  DetachVolume,
  ListInstances,
  Pause,
  PowerOff,
  PowerOn,
  Reboot,
  Resume,
  Snapshot,
  Spawn,
  Suspend,
  TriggerCrashDump,
  Unpause,
  type InstanceSpec,
  type InstanceState,
  type IscsiConnectionInfo,
} from '../../shared/agent/compute.js';
import type { AgentLayer, EnqueueRequest } from '../agents/index.js';
import type { AgentRoute, ReplyOf } from '../../shared/agent/contract.js';

/** A compute host as the compute service addresses it. */
export interface HostRef {
  id: string;
  name: string;
}

export type PowerOp = 'start' | 'stop' | 'reboot_soft' | 'reboot_hard' | 'pause' | 'unpause' | 'suspend' | 'resume';

/**
 * The one error of compute's host work: what a host reported (`code` is the agent's:
 * SpawnFailed, AgentUnavailable...) or a build step that failed (`step` names it, with
 * whether another host may be tried). `HostOpError.of` turns anything thrown into one.
 */
export class HostOpError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly o: { step?: string; retryable?: boolean; cause?: unknown } = {},
  ) {
    super(message, o.cause === undefined ? undefined : { cause: o.cause });
    this.name = 'HostOpError';
  }
  get step(): string | undefined {
    return this.o.step;
  }
  get retryable(): boolean {
    return this.o.retryable ?? false;
  }
  /** An agent or transport error as a HostOpError (itself when it already is one). */
  static of(e: unknown): HostOpError {
    if (e instanceof HostOpError) return e;
    const x = e as { agentCode?: string; code?: string; message?: string };
    return new HostOpError(x?.agentCode ?? x?.code ?? 'HostError', x?.message ?? String(e), { cause: e });
  }
  /** A failed build step: "<step>: <what failed>", the failure's code kept. */
  static step(step: string, e: unknown, retryable: boolean): HostOpError {
    const code = e instanceof HostOpError ? e.code : 'StepFailed';
    return new HostOpError(code, `${step}: ${messageOf(e)}`, { step, retryable, cause: e });
  }
}

/** A failure as compute records it in events and faults: "<code>: <message>" for a host's error. */
export const messageOf = (e: unknown): string =>
  e instanceof HostOpError && !e.step ? `${e.code}: ${e.message}` : e instanceof Error ? e.message : String(e);

/**
 * What the compute service needs from its hosts. Every method rejects with HostOpError
 * (code + a message naming the failing step) when the host reports a failure.
 */
export interface ComputeHostGateway {
  /** Boots the instance; on failure the host leaves nothing behind (contract: Spawn). Not idempotent by itself; the dispatcher's op id makes a resend harmless. */
  spawn(host: HostRef, spec: InstanceSpec, requestId?: string): Promise<{ state: InstanceState; libvirtStartMs: number }>;
  /** Removes the instance and its disks. Idempotent: succeeds when absent. */
  destroy(host: HostRef, uuid: string, requestId?: string): Promise<void>;
  /** Power operations; resolve with the state the hypervisor reports afterwards. */
  power(host: HostRef, uuid: string, op: PowerOp, requestId?: string): Promise<InstanceState>;
  /** The serial console log (at most maxBytes, the end of it). Read-only. */
  consoleLog(host: HostRef, uuid: string, maxBytes?: number): Promise<string>;
  /** Uploads a consistent copy of the root disk to the image service. */
  snapshot(
    host: HostRef,
    uuid: string,
    req: { image_id: string; upload_url: string; token: string; disk_format: 'qcow2' | 'raw' },
    requestId?: string,
  ): Promise<void>;
  /** What the hypervisor really runs (reconciliation). Read-only. */
  listInstances(host: HostRef): Promise<InstanceState[]>;
  /** Resolves once nothing is queued or in flight for this server on this host (at most `maxMs`). Optional. */
  settle?(host: HostRef, uuid: string, maxMs?: number): Promise<void>;
  /** The same, with the instance directories that have no domain (a spawn killed half-way). Optional. */
  inventory?(host: HostRef): Promise<{ instances: InstanceState[]; orphanDirs: string[] }>;
  /** Hot-plugs an iSCSI volume; resolves with the guest device. Idempotent for the same volume. */
  attachVolume(
    host: HostRef,
    uuid: string,
    volumeId: string,
    connection: IscsiConnectionInfo,
    device: string | null,
    requestId?: string,
  ): Promise<string>;
  /** Unplugs a volume; succeeds when it is not attached. */
  detachVolume(host: HostRef, uuid: string, volumeId: string, requestId?: string): Promise<void>;
  /** trigger_crash_dump: an NMI to the guest. Optional. */
  crashDump?(host: HostRef, uuid: string): Promise<void>;
  /** Where the instance's VNC display listens (InvalidState when it is not running). Read-only. Optional: gateways without it skip the check. */
  vncConsole?(host: HostRef, uuid: string): Promise<{ host: string; port: number }>;
}

async function wrap<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw HostOpError.of(e);
  }
}

/**
 * The gateway over the foundation's agent layer: durable work goes through the
 * dispatcher (an operation row per call, resent with the same op id until the agent
 * answers), reads are synchronous agent calls.
 */
export function dispatcherGateway(layer: AgentLayer, o: { giveUpAfter?: number; pollMs?: number } = {}): ComputeHostGateway {
  const { dispatcher, agents } = layer;
  // One ordered queue per server *and host*: a retry on another host is not stuck
  // behind a spawn still queued for a host that is down.
  const res = (uuid: string, host: HostRef) => ({ type: 'server', id: `${uuid}@${host.id}` });
  const giveUpAfter = o.giveUpAfter ?? 3;

  /**
   * Enqueue and wait. An agent that answers but keeps failing with a retryable error
   * (e.g. the image download answered 500) is given up after `giveUpAfter` attempts:
   * the operation is cancelled, so the build moves on instead of waiting for ever. An
   * agent that cannot be reached is waited for (a host that goes down releases its
   * builds: abortSpawnsOn).
   */
  const durable = async <R extends AgentRoute>(req: EnqueueRequest<R>): Promise<ReplyOf<R>> => {
    const op = dispatcher.enqueue(req);
    const timer = setInterval(() => {
      const row = dispatcher.get(op.id);
      if (
        row?.state === 'pending' &&
        row.attempts >= giveUpAfter &&
        row.last_error &&
        !row.last_error.includes(' is unavailable: ')
      ) {
        dispatcher.cancel(op.id, `gave up after ${row.attempts} attempts: ${row.last_error}`);
      }
    }, o.pollMs ?? 500);
    timer.unref();
    try {
      const out = await dispatcher.wait(op.id);
      if (out.ok) return out.reply as ReplyOf<R>;
      throw new HostOpError(out.error.code, out.error.message);
    } finally {
      clearInterval(timer);
    }
  };
  const powerRoutes = {
    start: (uuid: string) => ({ route: PowerOn, body: { uuid } }),
    stop: (uuid: string) => ({ route: PowerOff, body: { uuid, timeout_s: 60 } }),
    reboot_soft: (uuid: string) => ({ route: Reboot, body: { uuid, hard: false, timeout_s: 60 } }),
    reboot_hard: (uuid: string) => ({ route: Reboot, body: { uuid, hard: true } }),
    pause: (uuid: string) => ({ route: Pause, body: { uuid } }),
    unpause: (uuid: string) => ({ route: Unpause, body: { uuid } }),
    suspend: (uuid: string) => ({ route: Suspend, body: { uuid } }),
    resume: (uuid: string) => ({ route: Resume, body: { uuid } }),
  } as const;
  return {
    async spawn(host, spec, requestId) {
      const r = await wrap(durable({ hostId: host.id, route: Spawn, body: spec, resource: res(spec.uuid, host), requestId }));
      return { state: r.instance, libvirtStartMs: r.timings.libvirt_start_ms };
    },
    async destroy(host, uuid, requestId) {
      // A spawn still queued for this host is superseded (cancelled) rather than sent first.
      await wrap(
        durable({
          hostId: host.id,
          route: DestroyInstance,
          body: { uuid, delete_disks: true },
          resource: res(uuid, host),
          requestId,
          supersede: true,
        }),
      );
    },
    async power(host, uuid, op, requestId) {
      const { route, body } = powerRoutes[op](uuid);
      const r = (await wrap(durable({ hostId: host.id, route, body, resource: res(uuid, host), requestId } as never))) as {
        instance: InstanceState;
      };
      return r.instance;
    },
    async consoleLog(host, uuid, maxBytes) {
      const r = await wrap(agents.forHost(host.id).call(ConsoleLog, { uuid, ...(maxBytes ? { max_bytes: maxBytes } : {}) }));
      return r.output;
    },
    async snapshot(host, uuid, req, requestId) {
      await wrap(durable({ hostId: host.id, route: Snapshot, body: { uuid, ...req }, resource: res(uuid, host), requestId }));
    },
    async crashDump(host, uuid) {
      await wrap(agents.forHost(host.id).call(TriggerCrashDump, { uuid }));
    },
    async vncConsole(host, uuid) {
      return wrap(agents.forHost(host.id).call(VncConsole, { uuid }));
    },
    async listInstances(host) {
      return (await wrap(agents.forHost(host.id).call(ListInstances, {}))).instances;
    },
    async settle(host, uuid, maxMs = 120_000) {
      const resource = res(uuid, host);
      const end = Date.now() + maxMs;
      while (
        dispatcher.list({ resource, state: 'pending' }).length + dispatcher.list({ resource, state: 'sending' }).length >
        0
      ) {
        if (Date.now() > end)
          throw new HostOpError(
            'Timeout',
            `operations for server ${uuid} on ${host.name} are still queued after ${maxMs / 1000} s`,
          );
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async inventory(host) {
      const r = await wrap(agents.forHost(host.id).call(ListInstances, {}));
      return { instances: r.instances, orphanDirs: r.orphans ?? [] };
    },
    async attachVolume(host, uuid, volumeId, connection, device, requestId) {
      const r = await wrap(
        durable({
          hostId: host.id,
          route: AttachVolume,
          body: { uuid, volume_id: volumeId, connection, device },
          resource: res(uuid, host),
          requestId,
        }),
      );
      return r.device;
    },
    async detachVolume(host, uuid, volumeId, requestId) {
      await wrap(
        durable({
          hostId: host.id,
          route: DetachVolume,
          body: { uuid, volume_id: volumeId },
          resource: res(uuid, host),
          requestId,
        }),
      );
    },
  };
}
