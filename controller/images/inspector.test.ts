import { createReadStream, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';
import { qemuImg } from '../../shared/tools/qemu-img.js';
import { FormatSniffer, inspect, refusals, type Inspection } from './inspector.js';

// Real small images made by qemu-img in a temp dir (qemu-utils is a dependency of
// the controller host; the test needs no root).
const run = makeRunner();
const q = qemuImg(run);
let dir: string;
const p = (n: string) => join(dir, n);

async function sniff(path: string, chunk = 65536): Promise<Inspection> {
  const s = new FormatSniffer();
  for await (const c of createReadStream(path, { highWaterMark: chunk })) s.push(c as Buffer);
  return s.result();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tinsp-'));
  writeFileSync(p('base.raw'), Buffer.alloc(1 << 20, 1));
  await q.create(p('plain.qcow2'), 'qcow2', 64 << 20);
  await q.create(p('backed.qcow2'), 'qcow2', 1 << 20, { path: p('base.raw'), format: 'raw' });
  await run('qemu-img', ['create', '-q', '-f', 'qcow2', '-o', `data_file=${p('ext.data')}`, p('datafile.qcow2'), '1M']);
  await q.create(p('sparse.vmdk'), 'vmdk', 32 << 20);
  await run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=streamOptimized', p('stream.vmdk'), '8M']);
  await run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=monolithicFlat', p('flat.vmdk'), '1M']);
  await run('qemu-img', ['create', '-q', '-f', 'vmdk', '-o', 'subformat=twoGbMaxExtentSparse', p('split.vmdk'), '1M']);
  await q.create(p('disk.vhd'), 'vpc', 8 << 20);
  await run('qemu-img', ['create', '-q', '-f', 'vpc', '-o', 'subformat=fixed', p('fixed.vhd'), '4M']);
  await q.create(p('disk.vhdx'), 'vhdx', 8 << 20);
  await q.create(p('disk.vdi'), 'vdi', 8 << 20);
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('format inspection of real images', () => {
  it('reads a qcow2 and its virtual size', async () => {
    const i = await sniff(p('plain.qcow2'));
    expect(i).toEqual({ format: 'qcow2', virtualSize: 64 << 20, problems: [] });
    expect(refusals('qcow2', i)).toEqual([]);
    expect(refusals('raw', i)[0]).toMatch(/not in the declared disk_format raw/);
  });

  it('refuses a qcow2 naming a backing file or an external data file', async () => {
    expect((await sniff(p('backed.qcow2'))).problems).toContain('qcow2 image names a backing file');
    const d = await sniff(p('datafile.qcow2'));
    expect(d.problems).toContain('qcow2 image uses an external data file');
    expect(d.problems).toContain('qcow2 image names an external data file');
  });

  it('treats other bytes as raw with size = virtual size', async () => {
    const i = await sniff(p('base.raw'));
    expect(i).toEqual({ format: 'raw', virtualSize: 1 << 20, problems: [] });
    expect(refusals('qcow2', i)[0]).toMatch(/not in the declared disk_format qcow2 \(it looks like raw\)/);
  });

  it('accepts monolithicSparse and streamOptimized VMDKs with their capacity', async () => {
    expect(await sniff(p('sparse.vmdk'))).toEqual({ format: 'vmdk', virtualSize: 32 << 20, problems: [] });
    expect(await sniff(p('stream.vmdk'), 4096)).toEqual({ format: 'vmdk', virtualSize: 8 << 20, problems: [] });
  });

  it('refuses VMDKs whose extents live in other files', async () => {
    for (const f of ['flat.vmdk', 'split.vmdk']) {
      const i = await sniff(p(f));
      expect(i.format, f).toBe('vmdk');
      expect(i.problems.join(' '), f).toMatch(/extents outside the image|createType/);
    }
  });

  it('detects vhd (dynamic and fixed footer), vhdx and vdi', async () => {
    expect(await sniff(p('disk.vhd'))).toMatchObject({ format: 'vhd', problems: [] });
    const fixed = await sniff(p('fixed.vhd'), 1000);
    expect(fixed.format).toBe('vhd');
    expect(fixed.virtualSize).toBeGreaterThanOrEqual(4 << 20);
    expect((await sniff(p('disk.vhdx'))).format).toBe('vhdx');
    expect(await sniff(p('disk.vdi'))).toEqual({ format: 'vdi', virtualSize: 8 << 20, problems: [] });
  });

  it('detects an ISO from CD001 at 0x8001; raw may hold an ISO, iso must be one', () => {
    const iso = Buffer.alloc(0x9000);
    iso.write('CD001', 0x8001, 'latin1');
    const i = inspect(iso, iso.subarray(iso.length - 512), iso.length);
    expect(i.format).toBe('iso');
    expect(refusals('raw', i)).toEqual([]);
    expect(refusals('iso', i)).toEqual([]);
    expect(refusals('iso', inspect(Buffer.alloc(100), Buffer.alloc(0), 100))).toHaveLength(1);
  });

  it('refuses a descriptor-only VMDK text file', () => {
    const text = Buffer.from('# Disk DescriptorFile\nversion=1\ncreateType="monolithicSparse"\nRW 2048 SPARSE "/etc/shadow"\n');
    expect(inspect(text, Buffer.alloc(0), text.length).problems).toContain('VMDK refers to extents outside the image');
  });

  it('keeps the right tail whatever the chunk sizes', () => {
    const s = new FormatSniffer();
    const data = Buffer.alloc(3000);
    data.write('conectix', 3000 - 512, 'latin1');
    for (let o = 0; o < data.length; o += 7) s.push(data.subarray(o, Math.min(o + 7, data.length)));
    expect(s.result().format).toBe('vhd');
    expect(s.total).toBe(3000);
  });
});
