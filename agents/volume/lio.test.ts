import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { LioTarget, lioArgv } from './lio.js';

const ID = '11111111-2222-3333-4444-555555555555';
const IQN = `iqn.2026-11.org.homestack:volume-${ID}`;

describe('LIO target (argv only: this kernel has no LIO)', () => {
  it('exports a file volume: backstore, target, CHAP required, LUN 1, portal, saveconfig', async () => {
    const f = new FakeRunner();
    await new LioTarget({ run: f.run, iqnPrefix: 'iqn.2026-11.org.homestack', portalIp: '192.0.2.5' }).ensureExport(
      ID,
      `/var/lib/v/volume-${ID}.img`,
    );
    expect(f.calls.every((c) => c.cmd === 'targetcli')).toBe(true);
    expect(f.calls.map((c) => c.args)).toEqual([
      ['/backstores/fileio', 'create', `name=volume-${ID}`, `file_or_dev=/var/lib/v/volume-${ID}.img`],
      ['/iscsi', 'create', IQN],
      [`/iscsi/${IQN}/tpg1`, 'set', 'attribute', 'authentication=1', 'generate_node_acls=0', 'demo_mode_write_protect=0'],
      [`/iscsi/${IQN}/tpg1/luns`, 'create', `/backstores/fileio/volume-${ID}`, 'lun=1'],
      [`/iscsi/${IQN}/tpg1/portals`, 'delete', '0.0.0.0', '3260'],
      [`/iscsi/${IQN}/tpg1/portals`, 'create', '192.0.2.5', '3260'],
      ['saveconfig'],
    ]);
  });
  it('uses the block backstore for a device and undoes a half-made export', async () => {
    expect(lioArgv.backstoreCreate(ID, '/dev/vg/volume-x')).toEqual([
      '/backstores/block',
      'create',
      `name=volume-${ID}`,
      'dev=/dev/vg/volume-x',
    ]);
    const f = new FakeRunner().on((c) => c.args[0]?.endsWith('/luns') === true, new Error('LUN failed'));
    await expect(
      new LioTarget({ run: f.run, iqnPrefix: 'iqn.2026-11.org.homestack', portalIp: '192.0.2.5' }).ensureExport(
        ID,
        '/dev/vg/volume-x',
      ),
    ).rejects.toThrow(/LUN failed/);
    expect(f.calls.slice(-2).map((c) => c.args)).toEqual([
      ['/iscsi', 'delete', IQN],
      ['/backstores/block', 'delete', `volume-${ID}`],
    ]);
  });
  it('connects one initiator with CHAP (password redacted) and disconnects it', async () => {
    const f = new FakeRunner();
    const t = new LioTarget({ run: f.run, iqnPrefix: 'iqn.2026-11.org.homestack', portalIp: '192.0.2.5' });
    const auth = { username: 'hs-a1', password: 'pw0123456789AB' };
    const c = await t.initializeConnection(ID, { initiator: 'iqn.2005-03.org.homestack:h1' }, auth);
    await t.terminateConnection(ID, { initiator: 'iqn.2005-03.org.homestack:h1' });
    expect(c.data).toMatchObject({
      target_iqn: IQN,
      target_portal: '192.0.2.5:3260',
      target_lun: 1,
      auth_method: 'CHAP',
      auth_username: 'hs-a1',
    });
    expect(f.calls.map((x) => x.args)).toEqual([
      [`/iscsi/${IQN}/tpg1/acls`, 'create', 'iqn.2005-03.org.homestack:h1', 'add_mapped_luns=true'],
      [`/iscsi/${IQN}/tpg1/acls/iqn.2005-03.org.homestack:h1`, 'set', 'auth', 'userid=hs-a1', 'password=pw0123456789AB'],
      ['saveconfig'],
      [`/iscsi/${IQN}/tpg1/acls`, 'delete', 'iqn.2005-03.org.homestack:h1'],
      ['saveconfig'],
    ]);
    expect(f.calls[1]!.opts?.redact).toEqual(['pw0123456789AB']);
  });
  it('removeExport tolerates absence', async () => {
    const f = new FakeRunner().on((c) => c.args[1] === 'delete', new Error('No such path /iscsi/x'));
    await new LioTarget({ run: f.run, iqnPrefix: 'iqn.2026-11.org.homestack', portalIp: '192.0.2.5' }).removeExport(ID);
    expect(f.calls.map((c) => c.args[0])).toEqual(['/iscsi', '/backstores/fileio', '/backstores/block', 'saveconfig']);
  });
});
