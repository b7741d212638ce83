import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { tmpdir } from 'node:os';
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { unitText } from './services.js';

const ROOT = resolve(import.meta.dirname, '..', '..', '..');

describe('systemd units', () => {
  it('are installed with the checkout path and this node, and still verify', () => {
    for (const s of ['controller', 'agent'] as const) {
      const text = unitText('/srv/hs', s, join(ROOT, 'systemd'));
      expect(text).not.toContain('/opt/homestack');
      expect(text).toContain(`ExecStart=${process.execPath} `);
      expect(text).toContain(s === 'controller' ? '/srv/hs/dist/controller/main.js' : '/srv/hs/dist/agents/main.js');
      expect(text).toMatch(/^Restart=on-failure$/m);
    }
  });

  // `systemd-analyze verify` also reports on every other unit it loads on the way (a
  // Debian host with keystone installed prints "keystone.service: Dependency
  // After=keystone.service is dropped."): judge only the lines about our two units.
  const UNITS = ['homestack-controller.service', 'homestack-agent.service'];
  const ours = (out: string) =>
    out
      .split('\n')
      .filter((l) => UNITS.some((u) => l.includes(u)))
      .join('\n');
  const verify = (units: Record<string, string>, unitPath?: string) => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-units-'));
    const files = Object.entries(units).map(([f, text]) => {
      const p = join(dir, f);
      writeFileSync(p, text);
      return p;
    });
    const env = { ...process.env, ...(unitPath ? { SYSTEMD_UNIT_PATH: `${unitPath}:` } : {}) };
    const r = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8', env });
    return { all: r.stderr + r.stdout, ours: ours(r.stderr + r.stdout), status: r.status };
  };
  const shipped = () =>
    Object.fromEntries(UNITS.map((f) => [f, unitText(ROOT, f.includes('controller') ? 'controller' : 'agent')]));

  it('pass systemd-analyze verify as shipped (lines about other units of the host are not ours to judge)', (ctx) => {
    const probe = spawnSync('systemd-analyze', ['--version']);
    if (probe.error) {
      console.log('systemd-analyze not installed: skipping the unit verification');
      ctx.skip();
    }
    const r = verify(shipped());
    expect(r.ours).toBe('');
    expect(r.status).toBe(0);
  });

  it("the judgement ignores another unit's warning on the host and still catches one in ours", (ctx) => {
    if (spawnSync('systemd-analyze', ['--version']).error) ctx.skip();
    // A host unit like Debian's keystone.service, wanted by multi-user.target.
    const host = mkdtempSync(join(tmpdir(), 'hs-hostunits-'));
    mkdirSync(join(host, 'multi-user.target.wants'));
    writeFileSync(
      join(host, 'keystone.service'),
      '[Unit]\nAfter=keystone.service\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n',
    );
    symlinkSync('../keystone.service', join(host, 'multi-user.target.wants', 'keystone.service'));
    const clean = verify(shipped(), host);
    expect(clean.all).toContain('keystone.service'); // the host's noise is there…
    expect(clean.ours).toBe(''); // …and not held against us
    expect(clean.status).toBe(0);
    const broken = shipped();
    broken['homestack-agent.service'] = broken['homestack-agent.service']!.replace('Restart=on-failure', 'Restart=sometimes');
    const bad = verify(broken, host);
    expect(bad.ours).toMatch(/homestack-agent\.service:\d+: Failed to parse service restart specifier/);
  });
});
