import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { lastLines, readConsoleTail } from './console-log.js';
import { cpuCount, cpuHasVirtExtensions, parseMeminfo, resolveVirtType } from './host-info.js';

const CPU_NO_VT = `processor\t: 0\nvendor_id\t: GenuineIntel\nflags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep hypervisor lahf_lm\n\nprocessor\t: 1\nflags\t\t: fpu vme de pse hypervisor\n`;
const CPU_VMX = `processor\t: 0\nflags\t\t: fpu vme vmx ept\n`;
const CPU_SVM = `processor\t: 0\nflags\t\t: fpu svm npt\n`;

describe('host facts', () => {
  it('detects vmx/svm and resolves virt_type', () => {
    expect(cpuHasVirtExtensions(CPU_NO_VT)).toBe(false);
    expect(cpuHasVirtExtensions(CPU_VMX)).toBe(true);
    expect(cpuHasVirtExtensions(CPU_SVM)).toBe(true);
    expect(cpuHasVirtExtensions('flags\t: vmxnet3\n')).toBe(false);
    expect(cpuCount(CPU_NO_VT)).toBe(2);
    expect(resolveVirtType('auto', CPU_NO_VT, true)).toBe('qemu'); // this machine: /dev/kvm but no VT flag
    expect(resolveVirtType('auto', CPU_VMX, true)).toBe('kvm');
    expect(resolveVirtType('auto', CPU_VMX, false)).toBe('qemu');
    expect(resolveVirtType('kvm', CPU_NO_VT, true)).toBe('kvm');
    expect(resolveVirtType('qemu', CPU_VMX, true)).toBe('qemu');
  });

  it('parses /proc/meminfo', () => {
    expect(parseMeminfo('MemTotal:        6252756 kB\nMemFree:  100 kB\nMemAvailable:    4000000 kB\n')).toEqual({
      totalMb: 6106,
      availableMb: 3906,
    });
  });
});

describe('console log', () => {
  it('returns the tail, starting at a whole line, and "" before the first boot', async () => {
    const d = mkdtempSync(join(tmpdir(), 'tcl-'));
    try {
      expect(await readConsoleTail(join(d, 'none.log'), 100)).toEqual({ output: '', truncated: false });
      const p = join(d, 'console.log');
      writeFileSync(p, 'line one\nline two\nline three\n');
      expect(await readConsoleTail(p, 1000)).toEqual({ output: 'line one\nline two\nline three\n', truncated: false });
      expect(await readConsoleTail(p, 15)).toEqual({ output: 'line three\n', truncated: true });
      expect(lastLines('a\nb\nc\n', 2)).toBe('b\nc\n');
      expect(lastLines('a\nb\nc', 1)).toBe('c');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });
});
