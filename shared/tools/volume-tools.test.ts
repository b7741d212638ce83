import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../exec/fake-runner.js';
import { lvm, LvmError, parseLvs } from './lvm.js';
import { parseTgtShow, tgtadm, TgtError } from './tgtadm.js';

const fixture = (n: string) => readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'fixtures', n), 'utf8');

describe('parseTgtShow (output captured from tgtd 1.0.85)', () => {
  it('reads targets, LUNs, accounts and ACLs', () => {
    const s = parseTgtShow(fixture('tgtadm-show-targets.txt') + fixture('tgtadm-show-accounts.txt'));
    expect(s.targets).toHaveLength(2);
    const [a, b] = s.targets;
    expect(a).toMatchObject({
      tid: 901,
      iqn: 'iqn.2026-11.org.homestack:volume-11111111-2222-3333-4444-555555555555',
      accounts: ['hsuser1'],
      acls: ['127.0.0.1', 'iqn.2005-03.org.homestack:host1'],
      sessions: 0,
    });
    expect(a!.luns).toEqual([
      { lun: 0, type: 'controller', backingStore: null, sizeMb: 0 },
      { lun: 1, type: 'disk', backingStore: '/tmp/tfix-vol.img', sizeMb: 67 },
    ]);
    expect(b).toMatchObject({ tid: 902, accounts: [], acls: [] });
    expect(b!.luns[1]).toMatchObject({ backingStore: '/tmp/tfix-vol2.img', sizeMb: 34 });
    expect(s.accounts).toEqual(['hsuser1']);
  });
  it('reads empty output', () => {
    expect(parseTgtShow('')).toEqual({ targets: [], accounts: [] });
    expect(parseTgtShow('Account list:\n')).toEqual({ targets: [], accounts: [] });
  });
});

describe('tgtadm wrapper', () => {
  it('builds argv and redacts the CHAP password', async () => {
    const f = new FakeRunner();
    const t = tgtadm(f.run);
    await t.newTarget(3, 'iqn.2026-11.org.homestack:volume-x');
    await t.newLun(3, 1, '/var/lib/v/volume-x.img');
    await t.newAccount('hs-abc', 'pw0123456789AB');
    await t.bindAccount(3, 'hs-abc');
    await t.bindInitiator(3, 'iqn.2005-03.org.homestack:h1');
    await t.bindInitiator(3, '192.0.2.7');
    await t.deleteTarget(3);
    expect(f.calls.map((c) => c.args)).toEqual([
      ['--lld', 'iscsi', '--mode', 'target', '--op', 'new', '--tid', '3', '--targetname', 'iqn.2026-11.org.homestack:volume-x'],
      [
        '--lld',
        'iscsi',
        '--mode',
        'logicalunit',
        '--op',
        'new',
        '--tid',
        '3',
        '--lun',
        '1',
        '--backing-store',
        '/var/lib/v/volume-x.img',
      ],
      ['--lld', 'iscsi', '--mode', 'account', '--op', 'new', '--user', 'hs-abc', '--password', 'pw0123456789AB'],
      ['--lld', 'iscsi', '--mode', 'account', '--op', 'bind', '--tid', '3', '--user', 'hs-abc'],
      ['--lld', 'iscsi', '--mode', 'target', '--op', 'bind', '--tid', '3', '--initiator-name', 'iqn.2005-03.org.homestack:h1'],
      ['--lld', 'iscsi', '--mode', 'target', '--op', 'bind', '--tid', '3', '--initiator-address', '192.0.2.7'],
      ['--lld', 'iscsi', '--mode', 'target', '--op', 'delete', '--force', '--tid', '3'],
    ]);
    expect(f.calls[2]!.opts?.redact).toEqual(['pw0123456789AB']);
    expect(f.calls.every((c) => c.cmd === 'tgtadm')).toBe(true);
  });
  it('maps tgtadm messages to typed errors and refuses bad input', async () => {
    const f = new FakeRunner()
      .on((c) => c.args.includes('delete') && c.args.includes('target'), new Error("tgtadm: can't find the target"))
      .on((c) => c.args.includes('new') && c.args.includes('target'), new Error('tgtadm: this target already exists'))
      .on((c) => c.args.includes('account'), new Error("tgtadm: can't find the account"));
    const t = tgtadm(f.run);
    await expect(t.deleteTarget(9)).rejects.toMatchObject({ code: 'TargetNotFound' });
    await expect(t.newTarget(9, 'iqn.2026-11.x:y')).rejects.toMatchObject({ code: 'Exists' });
    await expect(t.deleteAccount('u1')).rejects.toMatchObject({ code: 'AccountNotFound' });
    const later = (fn: () => Promise<unknown>) => Promise.resolve().then(fn);
    await expect(later(() => t.newTarget(0, 'iqn.2026-11.x:y'))).rejects.toBeInstanceOf(TgtError);
    await expect(later(() => t.newTarget(1, '--evil'))).rejects.toBeInstanceOf(TgtError);
    await expect(later(() => t.newAccount('u', 'short'))).rejects.toBeInstanceOf(TgtError);
    await expect(later(() => t.newLun(1, 1, 'relative/path'))).rejects.toBeInstanceOf(TgtError);
  });
});

describe('lvm wrapper', () => {
  const LVS =
    '{"report":[{"lv":[{"lv_name":"volume-a","lv_size":"1073741824","lv_attr":"-wi-a-----","origin":"","pool_lv":""},{"lv_name":"snapshot-b","lv_size":"1073741824","lv_attr":"swi-a-s---","origin":"volume-a","pool_lv":""}]}]}';
  it('parses JSON reports', () => {
    expect(parseLvs(LVS)).toEqual([
      { name: 'volume-a', sizeBytes: 1073741824, attr: '-wi-a-----', origin: '', pool: '' },
      { name: 'snapshot-b', sizeBytes: 1073741824, attr: 'swi-a-s---', origin: 'volume-a', pool: '' },
    ]);
  });
  it('builds argv for thick, thin, snapshot, extend and remove', async () => {
    const f = new FakeRunner().on((c) => c.cmd === 'lvs', { stdout: LVS });
    const l = lvm(f.run);
    await l.create('vg0', 'volume-a', 1073741824);
    await l.createThin('vg0', 'pool', 'volume-t', 2147483648);
    await l.snapshot('vg0', 'volume-a', 'snapshot-s', 1073741824);
    await l.snapshot('vg0', 'volume-t', 'snapshot-u', null);
    await l.extend('vg0', 'volume-a', 2147483648);
    await l.remove('vg0', 'volume-a');
    expect((await l.listLvs('vg0')).map((x) => x.name)).toEqual(['volume-a', 'snapshot-b']);
    expect(f.calls.map((c) => [c.cmd, ...c.args])).toEqual([
      ['lvcreate', '--yes', '--wipesignatures', 'y', '--name', 'volume-a', '--size', '1073741824b', 'vg0'],
      ['lvcreate', '--yes', '--type', 'thin', '--name', 'volume-t', '--virtualsize', '2147483648b', '--thinpool', 'pool', 'vg0'],
      ['lvcreate', '--yes', '--snapshot', '--name', 'snapshot-s', '--size', '1073741824b', 'vg0/volume-a'],
      ['lvcreate', '--yes', '--snapshot', '--name', 'snapshot-u', '--setactivationskip', 'n', 'vg0/volume-t'],
      ['lvextend', '--size', '2147483648b', 'vg0/volume-a'],
      ['lvremove', '--yes', 'vg0/volume-a'],
      ['lvs', '--reportformat', 'json', '--units', 'b', '--nosuffix', '-o', 'lv_name,lv_size,lv_attr,origin,pool_lv', 'vg0'],
    ]);
  });
  it('adds --config and skips activation when activation is off', async () => {
    const f = new FakeRunner();
    await lvm(f.run, { extraConfig: 'global{activation=0}' }).create('vg0', 'volume-a', 1048576);
    await lvm(f.run, { extraConfig: 'global{activation=0}' }).pvremove('/dev/loop9');
    expect(f.calls[0]!.args).toEqual([
      '--config',
      'global{activation=0}',
      '--yes',
      '--activate',
      'n',
      '--zero',
      'n',
      '--wipesignatures',
      'y',
      '--name',
      'volume-a',
      '--size',
      '1048576b',
      'vg0',
    ]);
    expect([f.calls[1]!.cmd, ...f.calls[1]!.args]).toEqual([
      'lvm',
      'pvremove',
      '--config',
      'global{activation=0}',
      '--yes',
      '/dev/loop9',
    ]);
  });
  it('maps errors and refuses bad names and sizes', async () => {
    const f = new FakeRunner().on(() => true, new Error('  Failed to find logical volume "vg0/nope"'));
    const l = lvm(f.run);
    await expect(l.remove('vg0', 'nope')).rejects.toMatchObject({ code: 'LvNotFound' });
    expect(() => l.create('vg0', '-rf', 1048576)).toThrow(LvmError);
    expect(() => l.create('vg0', 'x', 1000)).toThrow(LvmError);
  });
});
