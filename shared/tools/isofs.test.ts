import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../exec/fake-runner.js';
import { isofs, isoArgs } from './isofs.js';

describe('isofs', () => {
  it("runs genisoimage with Nova's flags and the label", async () => {
    const f = new FakeRunner();
    await isofs(f.run).make('/d/disk.config', '/d/.cd', 'config-2');
    expect(f.calls.map((c) => [c.cmd, ...c.args])).toEqual([
      [
        'genisoimage',
        '-o',
        '/d/disk.config',
        '-ldots',
        '-allow-lowercase',
        '-allow-multidot',
        '-l',
        '-publisher',
        'Homestack',
        '-input-charset',
        'utf-8',
        '-quiet',
        '-J',
        '-r',
        '-V',
        'config-2',
        '/d/.cd',
      ],
    ]);
  });

  it('runs xorriso in mkisofs emulation with the same meaning', async () => {
    const f = new FakeRunner();
    await isofs(f.run, 'xorriso').make('/d/a.iso', '/d/src', 'config-2');
    expect(f.calls[0]!.cmd).toBe('xorriso');
    expect(f.calls[0]!.args.slice(0, 4)).toEqual(['-as', 'mkisofs', '-o', '/d/a.iso']);
    expect(f.calls[0]!.args.slice(-3)).toEqual(['-V', 'config-2', '/d/src']);
  });

  it('refuses bad labels and relative paths', () => {
    expect(() => isoArgs('genisoimage', '/a', '/b', 'bad label')).toThrow();
    expect(() => isoArgs('genisoimage', 'a.iso', '/b', 'x')).toThrow();
  });
});
