import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentConfig } from './context.js';

describe('agentConfig', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cli-context-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads agent.toml from --agent-config (both spellings), not from --config', () => {
    const good = join(dir, 'agent.toml');
    writeFileSync(good, 'roles = ["compute"]\n');
    expect(agentConfig(['--agent-config', good]).file).toBe(good);
    expect(agentConfig([`--agent-config=${good}`]).config.roles).toEqual(['compute']);
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, 'no_such_key = 1\n');
    expect(() => agentConfig(['--agent-config', bad])).toThrow(/no_such_key/);
    expect(agentConfig(['--config', bad, '--agent-config', good]).file).toBe(good);
  });
});
