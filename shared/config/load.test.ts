import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema } from './agent.js';
import { ControllerConfigSchema } from './controller.js';
import { ConfigError, configPath, loadConfig } from './load.js';

const dir = mkdtempSync(join(tmpdir(), 'hs-config-'));
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return (e as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('works with no file at all (all-in-one defaults)', () => {
    const c = loadConfig(ControllerConfigSchema, join(dir, 'absent.toml'));
    expect(c.listen.port).toBe(8000);
    expect(c.agents).toMatchObject({ heartbeat_s: 10, down_after_missed: 3 });
    const a = loadConfig(AgentConfigSchema, undefined);
    expect(a.roles).toEqual(['compute', 'network', 'volume']);
    expect(a.heartbeat_s).toBe(10);
  });

  it('names an unknown key, top level and nested', () => {
    expect(errorOf(() => loadConfig(ControllerConfigSchema, file('u1.toml', 'colour = "red"\n')))).toMatch(
      /unknown key 'colour'/,
    );
    const m = errorOf(() => loadConfig(ControllerConfigSchema, file('u2.toml', '[agents]\nheartbeats = 3\n')));
    expect(m).toMatch(/unknown key 'agents\.heartbeats'/);
    expect(m.split('\n')).toHaveLength(1);
  });

  it('names a key of the wrong type and what was expected', () => {
    expect(errorOf(() => loadConfig(ControllerConfigSchema, file('t1.toml', '[listen]\nport = "eighty"\n')))).toMatch(
      /key 'listen\.port': expected integer/,
    );
    expect(errorOf(() => loadConfig(AgentConfigSchema, file('t2.toml', 'roles = ["compute", "storage"]\n')))).toMatch(
      /key 'roles.1': expected one of "compute", "network", "volume"/,
    );
    expect(errorOf(() => loadConfig(ControllerConfigSchema, file('t3.toml', '[log]\nlevel = "loud"\n')))).toMatch(
      /key 'log\.level': expected one of "fatal", "error"/,
    );
    expect(errorOf(() => loadConfig(ControllerConfigSchema, file('t4.toml', '[agents]\ndown_after_missed = 0\n')))).toMatch(
      /key 'agents\.down_after_missed'.*>= 1/,
    );
  });

  it('names a directory key that does not exist', () => {
    const m = errorOf(() =>
      loadConfig(ControllerConfigSchema, file('d.toml', 'data_dir = "/nonexistent/homestack"\n'), { dirKeys: ['data_dir'] }),
    );
    expect(m).toBe(`${join(dir, 'd.toml')}: key 'data_dir': directory '/nonexistent/homestack' does not exist`);
  });

  it('reports invalid TOML in one line', () => {
    expect(errorOf(() => loadConfig(ControllerConfigSchema, file('bad.toml', '[listen\nport=1\n')))).toMatch(/not valid TOML/);
  });

  it('takes the path from --config, then the environment, then the default', () => {
    expect(configPath(['--config', '/a.toml'], 'HS_TEST_CFG', '/d.toml')).toBe('/a.toml');
    expect(configPath(['--config=/b.toml'], 'HS_TEST_CFG', '/d.toml')).toBe('/b.toml');
    process.env.HS_TEST_CFG = '/e.toml';
    expect(configPath([], 'HS_TEST_CFG', '/d.toml')).toBe('/e.toml');
    delete process.env.HS_TEST_CFG;
    expect(configPath([], 'HS_TEST_CFG', '/d.toml')).toBe('/d.toml');
  });
});
