import type { Domain } from '@unraid/libvirt';
import type { InstanceState } from '../../shared/agent/compute.js';
import { VirshError } from '../../shared/tools/virsh.js';
import { InvalidState, stepFailed } from './errors.js';
import { isInvalidOperation } from './libvirt-conn.js';
import { hasManagedSave, mustLookup, stateOfDomain, virState, waitState, type LibvirtCtx } from './libvirt-ctx.js';
import { VIR } from './libvirt-state.js';

/**
 * Power operations of the libvirt driver. Names: "pause/unpause" freeze the vCPUs in
 * memory (libvirt suspend/resume); "suspend/resume" save memory to disk and stop
 * (libvirt managed save / start). Contracts are on HypervisorDriver.
 */

const isOff = (s: number) => s === VIR.SHUTOFF || s === VIR.CRASHED || s === VIR.NOSTATE;
const isActive = (s: number) => !isOff(s);
/** How often an ACPI power-button press is repeated while waiting (a guest still booting may miss one). */
const ACPI_RETRY_MS = 5_000;

async function wrap<T>(step: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (isInvalidOperation(e) || (e instanceof VirshError && e.invalidState))
      throw new InvalidState(`${step}: ${(e as Error).message}`);
    throw stepFailed('HypervisorError', step, e);
  }
}

/** Start; a managed-save image, if any, is restored by libvirt. */
async function start(dom: Domain): Promise<void> {
  await wrap('start domain', () => dom.create());
}

export async function powerOn(c: LibvirtCtx, uuid: string): Promise<InstanceState> {
  const dom = await mustLookup(c, uuid);
  if (isOff(await virState(dom))) await start(dom);
  return stateOfDomain(c, uuid, dom);
}

/** ACPI shutdown (repeated every 5 s) until off or timeout; then destroy. */
export async function shutdownDomain(dom: Domain, timeoutSec: number): Promise<boolean> {
  let s = await virState(dom);
  if (isOff(s)) return false;
  if (s !== VIR.PAUSED && timeoutSec > 0) {
    const end = Date.now() + timeoutSec * 1000;
    while (Date.now() < end) {
      await dom.shutdown().catch(async (e: unknown) => {
        // The guest may finish powering off while libvirt still talks to QEMU's monitor
        // ('Unable to read from monitor: Connection reset by peer'): off is off.
        if (isInvalidOperation(e) || isOff(await virState(dom).catch(() => VIR.SHUTOFF))) return;
        throw e;
      });
      if (await waitState(dom, isOff, Math.min(ACPI_RETRY_MS, end - Date.now()))) return false;
    }
  }
  s = await virState(dom);
  if (isOff(s)) return false;
  await dom.destroy().catch((e: unknown) => {
    if (!isInvalidOperation(e)) throw e;
  });
  return true;
}

export async function powerOff(
  c: LibvirtCtx,
  uuid: string,
  timeoutSec: number,
): Promise<{ instance: InstanceState; forced: boolean }> {
  const dom = await mustLookup(c, uuid);
  const forced = await wrap('shut down domain', () => shutdownDomain(dom, timeoutSec));
  return { instance: await stateOfDomain(c, uuid, dom), forced };
}

/**
 * soft: ACPI shutdown, wait for the guest to turn off (forcing it after timeoutSec),
 * then start again (Nova's _soft_reboot does the same: the guest's own reboot path
 * is not observable from outside). hard: destroy (dropping any managed-save image)
 * and start. Both end running; an instance that was off is simply started.
 */
export async function reboot(c: LibvirtCtx, uuid: string, hard: boolean, timeoutSec = 120): Promise<InstanceState> {
  const dom = await mustLookup(c, uuid);
  const s = await virState(dom);
  if (hard || s === VIR.PAUSED) {
    if (isActive(s)) await wrap('destroy domain', () => dom.destroy());
    if (await hasManagedSave(c, uuid)) await wrap('remove managed save', () => c.virsh.managedSaveRemove(uuid));
  } else if (isActive(s)) {
    await wrap('shut down domain', () => shutdownDomain(dom, timeoutSec));
  }
  await start(dom);
  return stateOfDomain(c, uuid, dom);
}

export async function pause(c: LibvirtCtx, uuid: string): Promise<InstanceState> {
  const dom = await mustLookup(c, uuid);
  const s = await virState(dom);
  if (s === VIR.PAUSED) return stateOfDomain(c, uuid, dom);
  if (s !== VIR.RUNNING && s !== VIR.BLOCKED) throw new InvalidState(`Instance ${uuid} is not running; it cannot be paused.`);
  await wrap('pause domain', () => dom.suspend());
  return stateOfDomain(c, uuid, dom);
}

export async function unpause(c: LibvirtCtx, uuid: string): Promise<InstanceState> {
  const dom = await mustLookup(c, uuid);
  const s = await virState(dom);
  if (s === VIR.RUNNING || s === VIR.BLOCKED) return stateOfDomain(c, uuid, dom);
  if (s !== VIR.PAUSED) throw new InvalidState(`Instance ${uuid} is not paused; it cannot be unpaused.`);
  await wrap('unpause domain', () => dom.resume());
  return stateOfDomain(c, uuid, dom);
}

export async function suspend(c: LibvirtCtx, uuid: string): Promise<InstanceState> {
  const dom = await mustLookup(c, uuid);
  const s = await virState(dom);
  if (isOff(s)) {
    if (await hasManagedSave(c, uuid)) return stateOfDomain(c, uuid, dom);
    throw new InvalidState(`Instance ${uuid} is shut off; it cannot be suspended.`);
  }
  await wrap('managed save', () => c.virsh.managedSave(uuid));
  return stateOfDomain(c, uuid, dom);
}

export async function resume(c: LibvirtCtx, uuid: string): Promise<InstanceState> {
  const dom = await mustLookup(c, uuid);
  const s = await virState(dom);
  if (isActive(s)) return stateOfDomain(c, uuid, dom);
  if (!(await hasManagedSave(c, uuid))) throw new InvalidState(`Instance ${uuid} is not suspended; it cannot be resumed.`);
  await start(dom);
  return stateOfDomain(c, uuid, dom);
}
