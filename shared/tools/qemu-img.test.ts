import { readFileSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../exec/fake-runner.js';
import { parseInfo, qemuFormatOf, qemuImg, QemuImgError } from './qemu-img.js';

const fixture = (n: string) => readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', n), 'utf8');

describe('qemu-img wrapper', () => {
  it('runs info under prlimit with -f and --output=json', async () => {
    const f = new FakeRunner().on((c) => c.cmd === 'prlimit', { stdout: fixture('qemu-img-info-backing.json') });
    const info = await qemuImg(f.run).info('/var/lib/x/img', 'qcow2');
    expect(f.calls[0]!.cmd).toBe('prlimit');
    expect(f.calls[0]!.args).toEqual([
      '--as=1073741824',
      '--cpu=30',
      '--',
      'qemu-img',
      'info',
      '-f',
      'qcow2',
      '--output=json',
      '/var/lib/x/img',
    ]);
    expect(info).toMatchObject({
      format: 'qcow2',
      virtualSize: 2097152,
      backingFilename: '/tmp/qi/b.qcow2',
      backingFormat: 'qcow2',
      dataFile: null,
    });
  });

  it('parses the external data file of a qcow2', () => {
    expect(parseInfo(fixture('qemu-img-info-data-file.json'))).toMatchObject({
      dataFile: '/tmp/qi/d.raw',
      backingFilename: null,
      virtualSize: 1048576,
    });
  });

  it('turns a failure into QemuImgError', async () => {
    const f = new FakeRunner().on(() => true, new Error('Image is not in qcow2 format'));
    await expect(qemuImg(f.run).info('/x', 'qcow2')).rejects.toBeInstanceOf(QemuImgError);
  });

  it('builds convert, create and resize argv; refuses bad formats and paths', async () => {
    const f = new FakeRunner();
    const q = qemuImg(f.run);
    await q.convert('/a', 'qcow2', '/b', 'raw');
    await q.create('/c', 'qcow2', 1048576, { path: '/a', format: 'raw' });
    await q.resize('/c', 'qcow2', 2097152);
    expect(f.calls.map((c) => [c.cmd, ...c.args])).toEqual([
      ['prlimit', '--as=2147483648', '--', 'qemu-img', 'convert', '-f', 'qcow2', '-O', 'raw', '/a', '/b'],
      ['qemu-img', 'create', '-q', '-f', 'qcow2', '-b', '/a', '-F', 'raw', '/c', '1048576'],
      ['qemu-img', 'resize', '-q', '-f', 'qcow2', '/c', '2097152'],
    ]);
    await expect(q.info('/x', 'host_device')).rejects.toThrow(/unsupported image format/);
    await expect(q.info('-x', 'raw')).rejects.toThrow(/bad image path/);
    await expect(q.create('/x', 'raw', -1)).rejects.toThrow(/bad image size/);
  });

  it('maps Glance disk formats to qemu drivers', () => {
    expect(qemuFormatOf('vhd')).toBe('vpc');
    expect(qemuFormatOf('iso')).toBe('raw');
    expect(qemuFormatOf('qcow2')).toBe('qcow2');
    expect(qemuFormatOf('nope')).toBeNull();
  });
});
