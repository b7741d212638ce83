import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parse as smolToml } from 'smol-toml';
import { agentToml, cloudsYaml, controllerToml, openrc } from './files.js';
import { AgentConfigSchema } from '../../../shared/config/agent.js';
import { ControllerConfigSchema } from '../../../shared/config/controller.js';
import { Value } from 'typebox/value';

describe('all-in-one files', () => {
  it("writes configs that pass the daemons' schemas", () => {
    const c = smolToml(controllerToml('192.0.2.7'));
    expect(Value.Check(ControllerConfigSchema, Value.Default(ControllerConfigSchema, c))).toBe(true);
    expect(c).toMatchObject({ public_url: 'http://192.0.2.7:8000', listen: { host: '0.0.0.0', port: 8000 } });
    const a = smolToml(agentToml('192.0.2.7'));
    expect(Value.Check(AgentConfigSchema, Value.Default(AgentConfigSchema, a))).toBe(true);
    expect(a).toMatchObject({ roles: ['compute', 'network', 'volume'], network: { tunnel_ip: '192.0.2.7' } });
  });

  it('quotes the password for the shell and for YAML', () => {
    const pw = `a'b"c$d\\e`;
    const rc = openrc('http://192.0.2.7:8000', pw);
    const r = spawnSync('bash', ['-c', `${rc}\nprintf %s "$OS_PASSWORD"`], { encoding: 'utf8' });
    expect(r.stdout).toBe(pw);
    expect(rc).toContain("OS_AUTH_URL='http://192.0.2.7:8000/identity/v3'");
    const y = cloudsYaml('http://192.0.2.7:8000', pw);
    expect(y).toContain('  homestack:\n');
    expect(y).toContain(`password: ${JSON.stringify(pw)}`);
  });
});
