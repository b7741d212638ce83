import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { netTestApp, type NetTestApp } from './testing/kit.js';

let t: NetTestApp;
beforeEach(async () => {
  t = await netTestApp();
});
afterEach(async () => {
  await t.close();
});

describe('security groups', () => {
  it("creates the project's default group on first use, with Neutron's default rules", async () => {
    const q = 'fields=id&fields=name&fields=description&fields=project_id&fields=tags&project_id=p-alice';
    const r = await t.req('GET', `/v2.0/security-groups?${q}`, 'alice');
    expect(r.status).toBe(200);
    expect(r.body.security_groups).toHaveLength(1);
    const g = r.body.security_groups[0];
    expect(g).toMatchObject({ name: 'default', project_id: 'p-alice' });
    const full = (await t.req('GET', `/v2.0/security-groups/${g.id}`, 'alice')).body.security_group;
    const rules = full.security_group_rules.map((x: any) => [
      x.direction,
      x.ethertype,
      x.remote_group_id === g.id ? 'self' : x.remote_group_id,
      x.protocol,
    ]);
    expect(rules.sort()).toEqual([
      ['egress', 'IPv4', null, null],
      ['egress', 'IPv6', null, null],
      ['ingress', 'IPv4', 'self', null],
      ['ingress', 'IPv6', 'self', null],
    ]);
    // Only once, and private to the project.
    expect((await t.req('GET', '/v2.0/security-groups', 'alice')).body.security_groups).toHaveLength(1);
    expect((await t.req('GET', `/v2.0/security-groups/${g.id}`, 'bob')).status).toBe(404);
    // An admin asking for a project gets that project's default group made too.
    const a = await t.req('GET', '/v2.0/security-groups?project_id=p-admin', 'admin');
    expect(a.body.security_groups.map((x: any) => x.name)).toEqual(['default']);
  });

  it('adds rules as the client sends them, refuses duplicates (409 SecurityGroupRuleExists) and deletes', async () => {
    const g = (await t.req('GET', '/v2.0/security-groups', 'alice')).body.security_groups[0];
    const icmp = {
      protocol: 'icmp',
      direction: 'ingress',
      remote_ip_prefix: '0.0.0.0/0',
      security_group_id: g.id,
      ethertype: 'IPv4',
    };
    const r1 = await t.req('POST', '/v2.0/security-group-rules', 'alice', { security_group_rule: icmp });
    expect(r1.status).toBe(201);
    expect(r1.body.security_group_rule).toMatchObject({
      ...icmp,
      port_range_min: null,
      port_range_max: null,
      remote_group_id: null,
      normalized_cidr: '0.0.0.0/0',
      project_id: 'p-alice',
    });
    const tcp = {
      protocol: 'tcp',
      port_range_min: 8080,
      port_range_max: 8080,
      direction: 'ingress',
      remote_ip_prefix: '0.0.0.0/0',
      security_group_id: g.id,
      ethertype: 'IPv4',
    };
    const r2 = await t.req('POST', '/v2.0/security-group-rules', 'alice', { security_group_rule: tcp });
    expect(r2.status).toBe(201);
    const dup = await t.req('POST', '/v2.0/security-group-rules', 'alice', { security_group_rule: tcp });
    expect(dup.status).toBe(409);
    expect(dup.body.NeutronError.type).toBe('SecurityGroupRuleExists');
    expect(dup.body.NeutronError.message).toContain(r2.body.security_group_rule.id);
    // The same rule without a prefix is the same rule.
    const { remote_ip_prefix: _p, ...noPrefix } = tcp;
    expect((await t.req('POST', '/v2.0/security-group-rules', 'alice', { security_group_rule: noPrefix })).status).toBe(409);
    expect((await t.req('GET', `/v2.0/security-group-rules/${r1.body.security_group_rule.id}`, 'alice')).status).toBe(200);
    expect((await t.req('DELETE', `/v2.0/security-group-rules/${r1.body.security_group_rule.id}`, 'alice')).status).toBe(204);
    expect((await t.req('GET', `/v2.0/security-group-rules/${r1.body.security_group_rule.id}`, 'alice')).status).toBe(404);
  });

  it('validates rules and names the problem', async () => {
    const g = (await t.req('GET', '/v2.0/security-groups', 'alice')).body.security_groups[0];
    const bad = async (x: object) =>
      await t.req('POST', '/v2.0/security-group-rules', 'alice', {
        security_group_rule: { security_group_id: g.id, direction: 'ingress', ...x },
      });
    expect((await bad({ protocol: 'tcp', port_range_min: 90, port_range_max: 80 })).status).toBe(400);
    expect((await bad({ protocol: 'bogus' })).status).toBe(400);
    expect((await bad({ port_range_min: 22, port_range_max: 22 })).status).toBe(400);
    expect((await bad({ remote_ip_prefix: '10.0.0.0/8', ethertype: 'IPv6' })).status).toBe(400);
    expect((await bad({ remote_ip_prefix: '10.0.0.0/8', remote_group_id: g.id })).status).toBe(400);
    expect((await bad({ direction: 'sideways' })).status).toBe(400);
    const ok = await bad({ protocol: 'tcp', port_range_min: 22, remote_ip_prefix: '192.0.2.7' });
    expect(ok.status).toBe(201);
    expect(ok.body.security_group_rule).toMatchObject({ port_range_max: 22, remote_ip_prefix: '192.0.2.7/32' });
  });

  it("answers bad port ranges with Neutron's messages (Tempest reads them)", async () => {
    const g = (await t.req('GET', '/v2.0/security-groups', 'alice')).body.security_groups[0];
    const msg = async (protocol: string, port_range_min: number | null, port_range_max: number | null) => {
      const r = await t.req('POST', '/v2.0/security-group-rules', 'alice', {
        security_group_rule: { security_group_id: g.id, direction: 'ingress', protocol, port_range_min, port_range_max },
      });
      expect(r.status).toBe(400);
      return `${r.body.NeutronError.type}: ${r.body.NeutronError.message}`;
    };
    expect(await msg('tcp', -16, 80)).toBe('SecurityGroupInvalidPortValue: Invalid value for port -16.');
    expect(await msg('tcp', 80, 65536)).toBe('SecurityGroupInvalidPortValue: Invalid value for port 65536.');
    expect(await msg('tcp', 0, 80)).toBe('SecurityGroupInvalidPortValue: Invalid value for port 0.');
    const range = 'SecurityGroupInvalidPortRange: For TCP/UDP protocols, port_range_min must be <= port_range_max';
    expect(await msg('tcp', 80, 79)).toBe(range);
    expect(await msg('udp', null, 6)).toBe(range);
    expect(await msg('icmp', 1, 256)).toBe(
      'SecurityGroupInvalidIcmpValue: Invalid value for ICMP code (port_range_max) 256. It must be 0 to 255.',
    );
    expect(await msg('icmp', 300, 1)).toBe(
      'SecurityGroupInvalidIcmpValue: Invalid value for ICMP type (port_range_min) 300. It must be 0 to 255.',
    );
    expect(await msg('icmp', -1, 25)).toBe('SecurityGroupInvalidPortValue: Invalid value for port -1.');
    expect(await msg('icmp', null, 6)).toBe(
      'SecurityGroupMissingIcmpType: ICMP code (port-range-max) 6 is provided but ICMP type (port-range-min) is missing.',
    );
  });

  it('refuses a second "default" group and renaming any group to it (409, as Neutron)', async () => {
    const def = (await t.req('GET', '/v2.0/security-groups', 'alice')).body.security_groups[0];
    for (const name of ['default', 'Default']) {
      const r = await t.req('POST', '/v2.0/security-groups', 'alice', { security_group: { name } });
      expect(r.status).toBe(409);
      expect(r.body.NeutronError).toMatchObject({
        type: 'SecurityGroupDefaultAlreadyExists',
        message: 'Default security group already exists.',
      });
    }
    const web = (await t.req('POST', '/v2.0/security-groups', 'alice', { security_group: { name: 'web' } })).body.security_group;
    const ren = await t.req('PUT', `/v2.0/security-groups/${web.id}`, 'alice', { security_group: { name: 'default' } });
    expect(ren.status).toBe(409);
    expect(ren.body.NeutronError.type).toBe('SecurityGroupDefaultAlreadyExists');
    expect((await t.req('GET', `/v2.0/security-groups/${web.id}`, 'alice')).body.security_group.name).toBe('web');
    const renDef = await t.req('PUT', `/v2.0/security-groups/${def.id}`, 'alice', { security_group: { name: 'mine' } });
    expect(renDef.status).toBe(409);
    expect(renDef.body.NeutronError).toMatchObject({
      type: 'SecurityGroupCannotUpdateDefault',
      message: 'Updating default security group not allowed.',
    });
    const names = (await t.req('GET', '/v2.0/security-groups', 'alice')).body.security_groups.map((x: any) => x.name);
    expect(names.sort()).toEqual(['default', 'web']);
  });

  it('gives ports the default group; a group in use cannot be deleted; the default group stays', async () => {
    const n = (await t.req('POST', '/v2.0/networks', 'alice', { network: { name: 'n' } })).body.network;
    await t.req('POST', '/v2.0/subnets', 'alice', { subnet: { network_id: n.id, cidr: '10.1.0.0/24', ip_version: 4 } });
    const g = (await t.req('POST', '/v2.0/security-groups', 'alice', { security_group: { name: 'web', description: 'w' } })).body
      .security_group;
    expect(g.security_group_rules.map((r: any) => r.direction)).toEqual(['egress', 'egress']);
    const def = (await t.req('GET', '/v2.0/security-groups?name=default', 'alice')).body.security_groups[0];
    const p = (await t.req('POST', '/v2.0/ports', 'alice', { port: { network_id: n.id, security_groups: [g.id] } })).body.port;
    expect(p.security_groups).toEqual([g.id]);
    const p2 = (await t.req('POST', '/v2.0/ports', 'alice', { port: { network_id: n.id } })).body.port;
    expect(p2.security_groups).toEqual([def.id]);
    const inUse = await t.req('DELETE', `/v2.0/security-groups/${g.id}`, 'alice');
    expect(inUse.status).toBe(409);
    expect(inUse.body.NeutronError.type).toBe('SecurityGroupInUse');
    await t.req('PUT', `/v2.0/ports/${p.id}`, 'alice', { port: { security_groups: [] } });
    expect((await t.req('DELETE', `/v2.0/security-groups/${g.id}`, 'alice')).status).toBe(204);
    expect((await t.req('DELETE', `/v2.0/security-groups/${def.id}`, 'alice')).status).toBe(409);
    const noSec = await t.req('PUT', `/v2.0/ports/${p2.id}`, 'alice', { port: { port_security_enabled: false } });
    expect(noSec.status).toBe(400);
    const off = await t.req('PUT', `/v2.0/ports/${p2.id}`, 'alice', {
      port: { port_security_enabled: false, security_groups: [] },
    });
    expect(off.status).toBe(200);
    expect(off.body.port).toMatchObject({ port_security_enabled: false, security_groups: [] });
  });
});
