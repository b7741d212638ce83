import { mkdtempSync, writeFileSync } from 'node:fs';
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

  it('pass systemd-analyze verify as shipped', (ctx) => {
    const probe = spawnSync('systemd-analyze', ['--version']);
    if (probe.error) {
      console.log('systemd-analyze not installed: skipping the unit verification');
      ctx.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'hs-units-'));
    const files = ['homestack-controller.service', 'homestack-agent.service'].map((f) => {
      const p = join(dir, f);
      writeFileSync(p, unitText(ROOT, f.includes('controller') ? 'controller' : 'agent'));
      return p;
    });
    const r = spawnSync('systemd-analyze', ['verify', ...files], { encoding: 'utf8' });
    expect(r.stderr + r.stdout).toBe('');
    expect(r.status).toBe(0);
  });
});
