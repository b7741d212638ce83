import { PowerState, type InstanceState, type PowerStateValue } from '../../shared/agent/compute.js';
import type { DomainFacts } from './domain-read.js';

/** libvirt's virDomainState numbers. */
export const VIR = {
  NOSTATE: 0,
  RUNNING: 1,
  BLOCKED: 2,
  PAUSED: 3,
  SHUTDOWN: 4,
  SHUTOFF: 5,
  CRASHED: 6,
  PMSUSPENDED: 7,
} as const;

const WORDS: Record<number, string> = {
  0: 'no state',
  1: 'running',
  2: 'idle',
  3: 'paused',
  4: 'in shutdown',
  5: 'shut off',
  6: 'crashed',
  7: 'pmsuspended',
};

/**
 * libvirt state → Nova power_state, exactly as Nova's libvirt driver maps it
 * (nova/virt/libvirt/guest.py LIBVIRT_POWER_STATE): blocked counts as running, "in
 * shutdown" and "shut off" are SHUTDOWN, pmsuspended is SUSPENDED. A managed-saved
 * domain is shut off, so it reports SHUTDOWN like in Nova, with suspended_to_disk.
 */
export function powerStateOf(virState: number): PowerStateValue {
  switch (virState) {
    case VIR.RUNNING:
    case VIR.BLOCKED:
      return PowerState.RUNNING;
    case VIR.PAUSED:
      return PowerState.PAUSED;
    case VIR.SHUTDOWN:
    case VIR.SHUTOFF:
      return PowerState.SHUTDOWN;
    case VIR.CRASHED:
      return PowerState.CRASHED;
    case VIR.PMSUSPENDED:
      return PowerState.SUSPENDED;
    default:
      return PowerState.NOSTATE;
  }
}

export const stateWord = (virState: number): string => WORDS[virState] ?? 'no state';

export function toInstanceState(
  uuid: string,
  info: { state: number; nrVirtCpu: number; memory: number; maxMem: number; cpuTime: number },
  facts: DomainFacts,
  managedSave: boolean,
): InstanceState {
  const running = info.state !== VIR.SHUTOFF && info.state !== VIR.NOSTATE;
  return {
    uuid,
    power_state: powerStateOf(info.state),
    state: stateWord(info.state),
    suspended_to_disk: managedSave,
    vcpus: info.nrVirtCpu || facts.vcpus,
    memory_mb: Math.round((info.maxMem || 0) / 1024) || facts.memoryMb,
    cpu_time_ns: running ? Math.max(0, info.cpuTime || 0) : 0,
    volumes: { ...facts.volumes },
    ports: facts.ports.map((p) => p.portId),
  };
}
