import { describe, expect, it } from 'vitest';
import { shutdownDomain } from './libvirt-power.js';
import { VIR } from './libvirt-state.js';

/** A stand-in for @unraid/libvirt's Domain: state changes driven by the calls it gets. */
function fakeDomain(initial: number, o: { offAfterShutdowns?: number } = {}) {
  const calls: string[] = [];
  let state = initial;
  let shutdowns = 0;
  const dom = {
    getInfo: async () => ({ state, maxMem: 0, memory: 0, nrVirtCpu: 1, cpuTime: 0 }),
    shutdown: async () => {
      calls.push('shutdown');
      shutdowns++;
      if (o.offAfterShutdowns !== undefined && shutdowns >= o.offAfterShutdowns)
        setTimeout(() => {
          state = VIR.SHUTOFF;
        }, 50);
    },
    destroy: async () => {
      calls.push('destroy');
      state = VIR.SHUTOFF;
    },
  };
  return { dom: dom as never, calls, state: () => state };
}

describe('graceful stop', () => {
  it('ACPI shutdown that the guest honours is not forced', async () => {
    const f = fakeDomain(VIR.RUNNING, { offAfterShutdowns: 1 });
    expect(await shutdownDomain(f.dom, 5)).toBe(false);
    expect(f.calls).toEqual(['shutdown']);
  });

  it('a guest that ignores ACPI is destroyed after the timeout', async () => {
    const f = fakeDomain(VIR.RUNNING);
    const t0 = Date.now();
    expect(await shutdownDomain(f.dom, 1)).toBe(true);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(900);
    expect(f.calls[0]).toBe('shutdown');
    expect(f.calls.at(-1)).toBe('destroy');
    expect(f.state()).toBe(VIR.SHUTOFF);
  });

  it('a paused guest cannot hear ACPI: it is forced at once; an off guest is left alone', async () => {
    const p = fakeDomain(VIR.PAUSED);
    expect(await shutdownDomain(p.dom, 60)).toBe(true);
    expect(p.calls).toEqual(['destroy']);
    const off = fakeDomain(VIR.SHUTOFF);
    expect(await shutdownDomain(off.dom, 60)).toBe(false);
    expect(off.calls).toEqual([]);
  });

  it('timeout 0 forces immediately', async () => {
    const f = fakeDomain(VIR.RUNNING);
    expect(await shutdownDomain(f.dom, 0)).toBe(true);
    expect(f.calls).toEqual(['destroy']);
  });
});

describe('libvirt state → Nova power_state', async () => {
  const { powerStateOf, stateWord } = await import('./libvirt-state.js');
  it('maps like nova/virt/libvirt/guest.py', () => {
    expect([0, 1, 2, 3, 4, 5, 6, 7].map(powerStateOf)).toEqual([0, 1, 1, 3, 4, 4, 6, 7]);
    expect(stateWord(VIR.SHUTOFF)).toBe('shut off');
  });
});
