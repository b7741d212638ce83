import { describe, expect, it } from 'vitest';
import { checkSafe, fakeContext, FakeCloudApi, XSS, XSS_ESCAPED } from '../testing/fake-api.js';
import { portRange, securityGroupRulesPage } from './security-group-rules.js';
import { securityGroupsPage } from './security-groups.js';

const rules = [
  {
    id: 'ru2',
    security_group_id: 'g1',
    direction: 'ingress',
    ethertype: 'IPv4',
    protocol: 'tcp',
    port_range_min: 22,
    port_range_max: 22,
    remote_ip_prefix: '0.0.0.0/0',
    remote_group_id: null,
    description: XSS,
  },
  {
    id: 'ru1',
    security_group_id: 'g1',
    direction: 'egress',
    ethertype: 'IPv4',
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    remote_ip_prefix: null,
    remote_group_id: null,
  },
  {
    id: 'ru3',
    security_group_id: 'g1',
    direction: 'ingress',
    ethertype: 'IPv4',
    protocol: 'icmp',
    port_range_min: 8,
    port_range_max: 0,
    remote_ip_prefix: null,
    remote_group_id: 'g2',
  },
];
const groups = [
  { id: 'g1', name: XSS, description: `d${XSS}`, security_group_rules: rules },
  { id: 'g2', name: 'default', description: 'Default security group', security_group_rules: [] },
];
const api = () =>
  new FakeCloudApi()
    .on('GET', 'network', '/v2.0/security-groups', { security_groups: groups })
    .on('GET', 'network', '/v2.0/security-groups/g1', { security_group: groups[0] });

describe('security groups page', () => {
  it('lists groups escaped with rule counts; default cannot be deleted from here', async () => {
    const s = checkSafe(await securityGroupsPage.render(fakeContext(api())));
    expect(s).toContain(XSS_ESCAPED);
    expect(s).toContain('3 (edit)');
    expect(s.match(/value="delete"/g)).toHaveLength(1);
  });

  it('creates a group and goes to its rule editor; deletes', async () => {
    const a = api().on('POST', 'network', '/v2.0/security-groups', { security_group: { id: 'g9', name: 'web' } });
    const r = await securityGroupsPage.actions!.create!(fakeContext(a), { name: 'web', description: 'http' });
    await securityGroupsPage.actions!.delete!(fakeContext(a), { id: 'g1' });
    expect(a.writes()).toEqual([
      {
        method: 'POST',
        service: 'network',
        path: '/v2.0/security-groups',
        body: { security_group: { name: 'web', description: 'http' } },
      },
      { method: 'DELETE', service: 'network', path: '/v2.0/security-groups/g1' },
    ]);
    expect(r.redirect).toBe('/dashboard/project/security-groups/g9');
  });
});

describe('security group rule editor', () => {
  const ctx = (a = api()) => fakeContext(a, { params: { id: 'g1' } });

  it('shows rules sorted and described, with remote groups by name', async () => {
    const s = checkSafe(await securityGroupRulesPage.render(ctx()));
    expect(s.indexOf('>egress<')).toBeLessThan(s.indexOf('>ingress<'));
    expect(s).toContain('<td>22</td>');
    expect(s).toContain('type 8 code 0');
    expect(s).toContain('group default');
    expect(s.match(/value="delete_rule"/g)).toHaveLength(3);
    expect(s).toContain('<option value="g2">default</option>');
  });

  it('adds a TCP range from a CIDR', async () => {
    const a = api();
    await securityGroupRulesPage.actions!.add_rule!(ctx(a), {
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'tcp',
      ports: '8000-8080',
      remote_ip_prefix: '192.0.2.0/24',
      remote_group_id: '',
      description: 'web',
    });
    expect(a.writes()).toEqual([
      {
        method: 'POST',
        service: 'network',
        path: '/v2.0/security-group-rules',
        body: {
          security_group_rule: {
            security_group_id: 'g1',
            direction: 'ingress',
            ethertype: 'IPv4',
            protocol: 'tcp',
            port_range_min: 8000,
            port_range_max: 8080,
            remote_ip_prefix: '192.0.2.0/24',
            description: 'web',
          },
        },
      },
    ]);
  });

  it('adds an any-protocol egress rule for a remote group, and ICMP type/code', async () => {
    const a = api();
    await securityGroupRulesPage.actions!.add_rule!(ctx(a), {
      direction: 'egress',
      ethertype: 'IPv6',
      protocol: '',
      remote_group_id: 'g2',
    });
    await securityGroupRulesPage.actions!.add_rule!(ctx(a), {
      direction: 'ingress',
      ethertype: 'IPv4',
      protocol: 'icmp',
      ports: '8',
    });
    await securityGroupRulesPage.actions!.add_rule!(ctx(a), { direction: 'ingress', protocol: 'tcp', protocol_number: '47' });
    expect(a.writes().map((c) => (c.body as { security_group_rule: unknown }).security_group_rule)).toEqual([
      { security_group_id: 'g1', direction: 'egress', ethertype: 'IPv6', remote_group_id: 'g2' },
      {
        security_group_id: 'g1',
        direction: 'ingress',
        ethertype: 'IPv4',
        protocol: 'icmp',
        port_range_min: 8,
        port_range_max: null,
      },
      { security_group_id: 'g1', direction: 'ingress', ethertype: 'IPv4', protocol: '47' },
    ]);
  });

  it('refuses bad input naming the field, without calling the API', async () => {
    const a = api();
    const add = (f: Record<string, string>) => securityGroupRulesPage.actions!.add_rule!(ctx(a), f);
    await expect(add({ protocol: 'tcp', ports: '80-22' })).rejects.toThrow(/Port range/);
    await expect(add({ protocol: 'tcp', ports: '70000' })).rejects.toThrow(/Port range/);
    await expect(add({ protocol: '', ports: '22' })).rejects.toThrow(/needs the TCP, UDP or ICMP/);
    await expect(add({ protocol: 'tcp', remote_ip_prefix: '10.0.0.0/8', remote_group_id: 'g2' })).rejects.toThrow(/not both/);
    await expect(add({ protocol: 'gre' })).rejects.toThrow(/Protocol must be/);
    await expect(add({ direction: 'sideways' })).rejects.toThrow(/Direction/);
    await expect(add({ protocol_number: '300' })).rejects.toThrow(/0 to 255/);
    expect(a.writes()).toEqual([]);
  });

  it('deletes a rule', async () => {
    const a = api();
    const r = await securityGroupRulesPage.actions!.delete_rule!(ctx(a), { rule_id: 'ru2' });
    expect(a.writes()).toEqual([{ method: 'DELETE', service: 'network', path: '/v2.0/security-group-rules/ru2' }]);
    expect(r.redirect).toBe('/dashboard/project/security-groups/g1');
  });

  it('parses port ranges', () => {
    expect(portRange('udp', '53')).toEqual({ port_range_min: 53, port_range_max: 53 });
    expect(portRange('icmp', '3/4')).toEqual({ port_range_min: 3, port_range_max: 4 });
    expect(portRange('tcp', undefined)).toBeNull();
  });
});
