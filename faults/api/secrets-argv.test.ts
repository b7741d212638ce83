import { describe, expect, it } from 'vitest';
import { FakeRunner, type FakeCall } from '../../shared/exec/fake-runner.js';
import { TgtTarget } from '../../agents/volume/tgt.js';
import { virsh } from '../../shared/tools/virsh.js';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Scenario 8 (ps output): which argv of the volume attach path carries a CHAP secret.
// A FakeRunner records every host-tool call of a full export → connect → disconnect →
// remove cycle on the tgt target and the libvirt secret step; the secret may appear in
// exactly one place, tgtadm's `--mode account --op new` (tgtadm takes it only on its
// command line; known gap, see faults/README.md), and only with `redact` set so the
// runner hides it from logs and errors. Anything else carrying it fails this test.
const fixture = (n: string) =>
  readFileSync(join(dirname(fileURLToPath(import.meta.url)), '../../shared/tools/fixtures', n), 'utf8');
const isShow = (c: FakeCall) => c.args.includes('show');
const V = 'aaaaaaaa-2222-3333-4444-555555555555'; // a target of the captured show output

describe('secrets on argv (volume attach path, FakeRunner)', () => {
  it('a CHAP secret reaches argv only in tgtadm account creation, redacted; never in virsh', async () => {
    const secret = `pw${Date.now().toString(36)}SECRET`;
    const f = new FakeRunner()
      .on((c) => isShow(c) && c.args.includes('target'), { stdout: fixture('tgtadm-show-targets.txt') })
      .on(isShow, { stdout: fixture('tgtadm-show-accounts.txt') });
    const t = new TgtTarget({ run: f.run, iqnPrefix: 'iqn.2026-11.org.homestack', portalIp: '192.0.2.9' });
    const auth = { username: 'hs-att9', password: secret };
    const conn = { initiator: 'iqn.2005-03.org.homestack:cmp1', address: '192.0.2.20' };
    await t.initializeConnection(V, conn, auth);
    await t.terminateConnection(V, conn, auth);
    await t.removeExport(V);
    await virsh(f.run, { uri: 'qemu:///system' }).secretSetValue(
      '11111111-2222-3333-4444-555555555555',
      '/run/homestack/secret.value',
    );

    const carrying = f.calls.filter((c) => c.args.some((a) => a.includes(secret)));
    const tools = new Set(f.calls.map((c) => c.cmd));
    console.log(
      `[figures] secrets on argv: ${f.calls.length} tool calls (${[...tools].join(', ')}), ${carrying.length} carrying the CHAP secret`,
    );
    expect(f.calls.length).toBeGreaterThan(4);
    expect(tools.has('virsh')).toBe(true);
    expect(carrying.map((c) => [c.cmd, ...c.args.filter((a) => a.startsWith('--'))].join(' '))).toEqual([
      'tgtadm --lld --mode --op --user --password',
    ]);
    expect(carrying[0]!.opts?.redact).toContain(secret);
  });
});
