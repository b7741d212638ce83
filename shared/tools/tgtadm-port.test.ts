import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../exec/fake-runner.js';
import { tgtadm } from './tgtadm.js';

describe('tgtadm controlPort', () => {
  it('talks to a private tgtd (-C N) when given a control port, to the default one otherwise', async () => {
    const f = new FakeRunner().on(() => true, { stdout: '' });
    await tgtadm(f.run, { controlPort: 7391 })
      .show()
      .catch(() => undefined);
    await tgtadm(f.run)
      .show()
      .catch(() => undefined);
    expect(f.calls[0]!.args.slice(0, 4)).toEqual(['-C', '7391', '--lld', 'iscsi']);
    expect(f.calls.at(-1)!.args.slice(0, 2)).toEqual(['--lld', 'iscsi']);
  });
});
