import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { LvmBackend } from './lvm.js';

const A = '11111111-2222-3333-4444-555555555555';
const B = '66666666-7777-4888-9999-aaaaaaaaaaaa';
const S = '99999999-8888-4777-8666-555555555555';
const GiB = 1024 ** 3;
const lvs = (rows: Array<[string, number, string, string?, string?]>) =>
  JSON.stringify({
    report: [
      { lv: rows.map(([n, s, a, o, p]) => ({ lv_name: n, lv_size: String(s), lv_attr: a, origin: o ?? '', pool_lv: p ?? '' })) },
    ],
  });

describe('LVM back end (argv; real LVM is in volume.system.test.ts)', () => {
  it('thin: volumes are thin LVs in the pool, snapshots thin snapshots, clones from a snapshot copied with qemu-img -n', async () => {
    const f = new FakeRunner()
      .on((c) => c.cmd === 'vgs', {
        stdout: JSON.stringify({ report: [{ vg: [{ vg_name: 'vg0', vg_size: String(100 * GiB), vg_free: String(10 * GiB) }] }] }),
      })
      .on((c) => c.cmd === 'lvs', {
        stdout: lvs([
          ['pool', 50 * GiB, 'twi-a-tz--'],
          [`volume-${A}`, GiB, 'Vwi-a-tz--', '', 'pool'],
          [`snapshot-${S}`, GiB, 'Vwi---tz-k', `volume-${A}`, 'pool'],
        ]),
      });
    const b = new LvmBackend({ run: f.run, vg: 'vg0', thinPool: 'pool' });
    await b.init();
    await b.create({ id: B, sizeGb: 2 });
    await b.snapshot({ id: '0a0a0a0a-0b0b-4c0c-8d0d-0e0e0e0e0e0e', volumeId: A });
    await b.createFromSnapshot({ id: '12121212-3434-4565-8787-909090909090', sizeGb: 1 }, S);
    const calls = f.calls.filter((c) => c.cmd !== 'lvs' && c.cmd !== 'vgs').map((c) => [c.cmd, ...c.args]);
    expect(calls).toEqual([
      [
        'lvcreate',
        '--yes',
        '--type',
        'thin',
        '--name',
        `volume-${B}`,
        '--virtualsize',
        `${2 * GiB}b`,
        '--thinpool',
        'pool',
        'vg0',
      ],
      [
        'lvcreate',
        '--yes',
        '--snapshot',
        '--name',
        'snapshot-0a0a0a0a-0b0b-4c0c-8d0d-0e0e0e0e0e0e',
        '--setactivationskip',
        'n',
        `vg0/volume-${A}`,
      ],
      [
        'lvcreate',
        '--yes',
        '--type',
        'thin',
        '--name',
        'volume-12121212-3434-4565-8787-909090909090',
        '--virtualsize',
        `${GiB}b`,
        '--thinpool',
        'pool',
        'vg0',
      ],
      [
        'qemu-img',
        'convert',
        '-f',
        'raw',
        '-O',
        'raw',
        '-n',
        `/dev/vg0/snapshot-${S}`,
        '/dev/vg0/volume-12121212-3434-4565-8787-909090909090',
      ],
    ]);
    expect(await b.stats()).toEqual({ totalGb: 50, freeGb: 50 });
  });

  it('thin: free space is the pool size less the data written to it (data_percent), not the pool size', async () => {
    const pool = (size: number, pct: string | undefined) =>
      JSON.stringify({ report: [{ lv: [{ lv_size: String(size), ...(pct === undefined ? {} : { data_percent: pct }) }] }] });
    const f = new FakeRunner()
      .on((c) => c.cmd === 'vgs', {
        stdout: JSON.stringify({ report: [{ vg: [{ vg_name: 'vg0', vg_size: String(100 * GiB), vg_free: String(10 * GiB) }] }] }),
      })
      .on((c) => c.cmd === 'lvs', { stdout: pool(50 * GiB, '37.50') });
    const b = new LvmBackend({ run: f.run, vg: 'vg0', thinPool: 'pool' });
    // 37.5 % of 50 GiB written: 31.25 GiB left, reported in whole GiB rounded down.
    expect(await b.stats()).toEqual({ totalGb: 50, freeGb: 31 });
    expect(f.calls.filter((c) => c.cmd === 'lvs').map((c) => c.args)).toEqual([
      ['--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'lv_size,data_percent', 'vg0/pool'],
    ]);
    // A full pool has nothing free; an inactive one (no data_percent reported) nothing written.
    const full = new FakeRunner()
      .on((c) => c.cmd === 'vgs', {
        stdout: JSON.stringify({ report: [{ vg: [{ vg_name: 'vg0', vg_size: '0', vg_free: '0' }] }] }),
      })
      .on((c) => c.cmd === 'lvs', { stdout: pool(50 * GiB, '100.00') });
    expect(await new LvmBackend({ run: full.run, vg: 'vg0', thinPool: 'pool' }).stats()).toEqual({ totalGb: 50, freeGb: 0 });
    const idle = new FakeRunner()
      .on((c) => c.cmd === 'vgs', {
        stdout: JSON.stringify({ report: [{ vg: [{ vg_name: 'vg0', vg_size: '0', vg_free: '0' }] }] }),
      })
      .on((c) => c.cmd === 'lvs', { stdout: pool(50 * GiB, '') });
    expect(await new LvmBackend({ run: idle.run, vg: 'vg0', thinPool: 'pool' }).stats()).toEqual({ totalGb: 50, freeGb: 50 });
  });

  it('thick: a snapshot gets a COW area the size of the origin; a failed copy removes the new LV; delete tolerates absence', async () => {
    const f = new FakeRunner()
      .on((c) => c.cmd === 'lvs', { stdout: lvs([[`volume-${A}`, GiB, '-wi-a-----']]) })
      .on((c) => c.cmd === 'qemu-img', new Error('Could not open /dev/vg0/volume-x'))
      .on(
        (c) => c.cmd === 'lvremove' && c.args.includes(`vg0/volume-${S}`),
        new Error('  Failed to find logical volume "vg0/volume-x"'),
      );
    const b = new LvmBackend({ run: f.run, vg: 'vg0', thinPool: '' });
    await b.snapshot({ id: S, volumeId: A });
    await expect(b.createFromVolume({ id: B, sizeGb: 1 }, A)).rejects.toMatchObject({ code: 'BackendError' });
    await b.delete(S);
    const calls = f.calls.filter((c) => c.cmd !== 'lvs').map((c) => [c.cmd, ...c.args]);
    expect(calls).toEqual([
      ['lvcreate', '--yes', '--snapshot', '--name', `snapshot-${S}`, '--size', `${GiB}b`, `vg0/volume-${A}`],
      ['lvcreate', '--yes', '--wipesignatures', 'y', '--name', `volume-${B}`, '--size', `${GiB}b`, 'vg0'],
      ['qemu-img', 'convert', '-f', 'raw', '-O', 'raw', '-n', `/dev/vg0/volume-${A}`, `/dev/vg0/volume-${B}`],
      ['lvremove', '--yes', `vg0/volume-${B}`],
      ['lvremove', '--yes', `vg0/volume-${S}`],
    ]);
    await expect(b.extend(A, 1)).resolves.toBeUndefined();
    await expect(b.extend(B, 3)).rejects.toMatchObject({ code: 'VolumeNotFound' });
  });
});
