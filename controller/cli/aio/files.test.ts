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
    // HTTPS by default (issue 17): the catalog's URLs are https://, the agent reaches the controller over TLS.
    expect(c).toMatchObject({
      public_url: 'https://192.0.2.7:8000',
      listen: { host: '0.0.0.0', port: 8000 },
      tls: { enabled: true },
    });
    const a = smolToml(agentToml('192.0.2.7'));
    expect(Value.Check(AgentConfigSchema, Value.Default(AgentConfigSchema, a))).toBe(true);
    expect(a).toMatchObject({
      roles: ['compute', 'network', 'volume'],
      controller_url: 'https://127.0.0.1:8000',
      network: { tunnel_ip: '192.0.2.7' },
    });
  });

  it("names the cloud's CA for an https:// cloud: OS_CACERT in the openrc, cacert in clouds.yaml", () => {
    const rc = openrc('https://192.0.2.7:8000', 'pw', 'RegionOne', undefined, '/etc/homestack/ca.pem');
    const r = spawnSync('bash', ['-c', `${rc}\nprintf '%s %s' "$OS_AUTH_URL" "$OS_CACERT"`], { encoding: 'utf8' });
    expect(r.stdout).toBe('https://192.0.2.7:8000/identity/v3 /etc/homestack/ca.pem');
    const y = cloudsYaml(
      'https://192.0.2.7:8000',
      'pw',
      'RegionOne',
      { d: { username: 'u', password: 'p', project: 'q' } },
      '/etc/homestack/ca.pem',
    );
    expect(y.match(/^ {4}cacert: "\/etc\/homestack\/ca\.pem"$/gm)).toHaveLength(2);
    // Plain HTTP (configured so): no CA named.
    expect(openrc('http://192.0.2.7:8000', 'pw', 'RegionOne', undefined, '/etc/homestack/ca.pem')).not.toContain('OS_CACERT');
    expect(cloudsYaml('http://192.0.2.7:8000', 'pw', 'RegionOne', {}, '/etc/homestack/ca.pem')).not.toContain('cacert');
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
