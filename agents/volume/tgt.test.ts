import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FakeRunner, type FakeCall } from '../../shared/exec/fake-runner.js';
import { ToolError } from '../../shared/exec/run.js';
import { TgtTarget } from './tgt.js';

const fixture = (n: string) =>
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../shared/tools/fixtures', n), 'utf8');
const SHOW = fixture('tgtadm-show-targets.txt');
const ACCOUNTS = fixture('tgtadm-show-accounts.txt');
const isShow = (c: FakeCall) => c.args.includes('show');
const changes = (f: FakeRunner) => f.calls.filter((c) => !isShow(c)).map((c) => c.args.slice(2).join(' '));
const V = 'aaaaaaaa-2222-3333-4444-555555555555'; // tid 902 in the fixture, no accounts
const NEW = 'bbbbbbbb-2222-3333-4444-555555555555';

describe('tgt target (argv against captured show output)', () => {
  it('ensureExport: nothing to do when LUN 1 has the path; a new target takes max tid + 1; a tid taken meanwhile is retried', async () => {
    const same = new FakeRunner()
      .on((c) => isShow(c) && c.args.includes('target'), { stdout: SHOW })
      .on(isShow, { stdout: ACCOUNTS });
    const t = new TgtTarget({ run: same.run, iqnPrefix: 'iqn.2026-11.org.homestack', portalIp: '192.0.2.9' });
    await t.ensureExport(V, '/tmp/tfix-vol2.img');
    expect(changes(same)).toEqual([]);
    let taken = true;
    const f = new FakeRunner()
      .on((c) => isShow(c) && c.args.includes('target'), { stdout: SHOW })
      .on(isShow, { stdout: ACCOUNTS });
    const run = f.run;
    const racing: typeof run = async (cmd, args, o) => {
      if (args.includes('new') && args.includes('903') && taken) {
        taken = false;
        f.calls.push({ cmd, args, opts: o });
        throw new ToolError(cmd, args, 22, null, false, 'tgtadm: this target already exists');
      }
      return run(cmd, args, o);
    };
    await new TgtTarget({ run: racing, iqnPrefix: 'iqn.2026-11.org.homestack', portalIp: '192.0.2.9' }).ensureExport(
      NEW,
      `/v/volume-${NEW}.img`,
    );
    expect(changes(f)).toEqual([
      `--mode target --op new --tid 903 --targetname iqn.2026-11.org.homestack:volume-${NEW}`,
      `--mode target --op new --tid 904 --targetname iqn.2026-11.org.homestack:volume-${NEW}`,
      `--mode logicalunit --op new --tid 904 --lun 1 --backing-store /v/volume-${NEW}.img`,
    ]);
  });

  it('initializeConnection: account, bind, ACL (initiator name and address); terminate revokes; removeExport deletes the target and its accounts', async () => {
    const f = new FakeRunner()
      .on((c) => isShow(c) && c.args.includes('target'), { stdout: SHOW })
      .on(isShow, { stdout: ACCOUNTS });
    const t = new TgtTarget({ run: f.run, iqnPrefix: 'iqn.2026-11.org.homestack', portalIp: '192.0.2.9' });
    const auth = { username: 'hs-att1', password: 'pw0123456789AB' };
    const c = await t.initializeConnection(V, { initiator: 'iqn.2005-03.org.homestack:cmp1', address: '192.0.2.20' }, auth);
    expect(c).toEqual({
      driver_volume_type: 'iscsi',
      data: {
        target_iqn: `iqn.2026-11.org.homestack:volume-${V}`,
        target_portal: '192.0.2.9:3260',
        target_lun: 1,
        volume_id: V,
        auth_method: 'CHAP',
        auth_username: 'hs-att1',
        auth_password: 'pw0123456789AB',
        discard: true,
      },
    });
    expect(changes(f)).toEqual([
      '--mode account --op new --user hs-att1 --password pw0123456789AB',
      '--mode account --op bind --tid 902 --user hs-att1',
      '--mode target --op bind --tid 902 --initiator-name iqn.2005-03.org.homestack:cmp1',
      '--mode target --op bind --tid 902 --initiator-address 192.0.2.20',
    ]);
    f.calls.length = 0;
    await t.removeExport('11111111-2222-3333-4444-555555555555');
    expect(changes(f)).toEqual(['--mode target --op delete --force --tid 901', '--mode account --op delete --user hsuser1']);
    f.calls.length = 0;
    await t.removeExport('cccccccc-2222-3333-4444-555555555555'); // absent: nothing
    expect(changes(f)).toEqual([]);
  });
});
