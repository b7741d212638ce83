import { html } from '../html.js';
import type { Page } from '../page.js';
import type { GroupDoc, RuleDoc } from './security-groups.js';
import { bad, buttonForm, field, formBox, id, input, link, nameOr, opt, pathId, select, table, to } from './ui-kit.js';

const PROTOCOLS = ['', 'tcp', 'udp', 'icmp', 'icmpv6'];

/** "22", "8000-8080" (TCP/UDP) or "8/0" (ICMP type/code) → Neutron's min and max. */
export function portRange(
  protocol: string | null,
  text: string | undefined,
): { port_range_min: number | null; port_range_max: number | null } | null {
  if (!text) return null;
  if (!protocol || !['tcp', 'udp', 'icmp', 'icmpv6', '6', '17', '1', '58'].includes(protocol))
    bad('Port range needs the TCP, UDP or ICMP protocol.');
  const icmp = protocol.startsWith('icmp') || protocol === '1' || protocol === '58';
  const m = icmp ? /^(\d+)(?:\/(\d+))?$/.exec(text) : /^(\d+)(?:\s*-\s*(\d+))?$/.exec(text);
  if (!m)
    bad(
      icmp
        ? 'Port range: for ICMP give the type, or type/code (e.g. 8/0).'
        : 'Port range: give a port (22) or a range (8000-8080).',
    );
  const a = Number(m[1]);
  const b = m[2] !== undefined ? Number(m[2]) : icmp ? null : a;
  if (icmp) {
    if (a > 255 || (b !== null && b > 255)) bad('Port range: ICMP type and code are 0 to 255.');
  } else if (a < 1 || b! > 65535 || a > b!) bad('Port range: ports are 1 to 65535, the first not above the last.');
  return { port_range_min: a, port_range_max: b };
}

export function describeRange(r: RuleDoc): string {
  if (r.port_range_min === null && r.port_range_max === null) return 'any';
  if (r.protocol?.startsWith('icmp'))
    return `type ${r.port_range_min ?? 'any'}${r.port_range_max !== null ? ` code ${r.port_range_max}` : ''}`;
  return r.port_range_min === r.port_range_max ? String(r.port_range_min) : `${r.port_range_min}-${r.port_range_max}`;
}

/** The rule editor of one security group. */
export const securityGroupRulesPage: Page = {
  path: '/project/security-groups/:id',
  title: 'Security group rules',
  async render(ctx) {
    const gid = pathId(ctx.params.id, 'security group');
    const [{ security_group: g }, all] = await Promise.all([
      ctx.api.get<{ security_group: GroupDoc }>('network', `/v2.0/security-groups/${gid}`),
      ctx.api.get<{ security_groups: GroupDoc[] }>('network', '/v2.0/security-groups'),
    ]);
    const groupName = new Map(all.security_groups.map((x) => [x.id, nameOr(x)]));
    const rules = [...(g.security_group_rules ?? [])].sort(
      (a, b) =>
        a.direction.localeCompare(b.direction) ||
        a.ethertype.localeCompare(b.ethertype) ||
        (a.protocol ?? '').localeCompare(b.protocol ?? '') ||
        (a.port_range_min ?? -1) - (b.port_range_min ?? -1) ||
        a.id.localeCompare(b.id),
    );
    const list = table(
      rules,
      [
        { label: 'Direction', cell: (r) => r.direction },
        { label: 'Ether type', cell: (r) => r.ethertype },
        { label: 'Protocol', cell: (r) => r.protocol ?? 'any' },
        { label: 'Port range', cell: describeRange },
        {
          label: 'Remote',
          cell: (r) =>
            r.remote_group_id ? `group ${groupName.get(r.remote_group_id) ?? r.remote_group_id}` : (r.remote_ip_prefix ?? 'any'),
        },
        { label: 'Description', cell: (r) => r.description ?? '' },
        { label: '', cell: (r) => buttonForm(ctx, 'delete_rule', 'Delete', { rule_id: r.id }, true) },
      ],
      'No rules: nothing is allowed.',
    );
    const groups = all.security_groups
      .map((x) => ({ value: x.id, label: nameOr(x) }))
      .sort((a, b) => a.label.localeCompare(b.label));
    const add = formBox(
      ctx,
      'add_rule',
      'Add a rule',
      [
        field(
          'Direction',
          'direction',
          select('direction', [
            { value: 'ingress', label: 'Ingress' },
            { value: 'egress', label: 'Egress' },
          ]),
        ),
        field(
          'Ether type',
          'ethertype',
          select('ethertype', [
            { value: 'IPv4', label: 'IPv4' },
            { value: 'IPv6', label: 'IPv6' },
          ]),
        ),
        field(
          'Protocol',
          'protocol',
          select(
            'protocol',
            PROTOCOLS.map((p) => ({ value: p, label: p || 'any' })),
            { selected: 'tcp' },
          ),
        ),
        field('Other protocol number (0-255, instead)', 'protocol_number', input('protocol_number', { placeholder: '47' })),
        field('Port range (22, 8000-8080; ICMP: type/code)', 'ports', input('ports', { placeholder: '22' })),
        field('Remote CIDR', 'remote_ip_prefix', input('remote_ip_prefix', { placeholder: '0.0.0.0/0' })),
        field('or remote group', 'remote_group_id', select('remote_group_id', groups, { blank: '(none)' })),
        field('Description', 'description', input('description')),
      ],
      'Add rule',
    );
    return html`<h2>Security group ${nameOr(g)}</h2>
<p>${link(ctx, '/project/security-groups', '← Security groups')}</p>
<p>${g.description}</p>${list}${add}`;
  },
  actions: {
    async add_rule(ctx, form) {
      const gid = pathId(ctx.params.id, 'security group');
      const direction =
        form.direction === 'egress'
          ? 'egress'
          : form.direction === 'ingress' || !form.direction
            ? 'ingress'
            : bad('Direction must be ingress or egress.');
      const ethertype =
        form.ethertype === 'IPv6'
          ? 'IPv6'
          : form.ethertype === 'IPv4' || !form.ethertype
            ? 'IPv4'
            : bad('Ether type must be IPv4 or IPv6.');
      const number = opt(form, 'protocol_number');
      let protocol: string | null = opt(form, 'protocol') ?? null;
      if (number !== undefined) {
        if (!/^\d+$/.test(number) || Number(number) > 255) bad('Other protocol number must be 0 to 255.');
        protocol = number;
      } else if (protocol !== null && !PROTOCOLS.includes(protocol)) bad('Protocol must be any, tcp, udp, icmp or icmpv6.');
      const rule: Record<string, unknown> = { security_group_id: gid, direction, ethertype };
      if (protocol !== null) rule.protocol = protocol;
      const range = portRange(protocol, opt(form, 'ports'));
      if (range) Object.assign(rule, range);
      const cidr = opt(form, 'remote_ip_prefix');
      const group = opt(form, 'remote_group_id');
      if (cidr && group) bad('Give a remote CIDR or a remote group, not both.');
      if (cidr) rule.remote_ip_prefix = cidr;
      if (group) rule.remote_group_id = id(form, 'remote_group_id', 'Remote group');
      const description = opt(form, 'description');
      if (description) rule.description = description;
      await ctx.api.post('network', '/v2.0/security-group-rules', { security_group_rule: rule });
      return { redirect: to(ctx, `/project/security-groups/${gid}`), message: 'Rule added.' };
    },
    async delete_rule(ctx, form) {
      const gid = pathId(ctx.params.id, 'security group');
      await ctx.api.delete('network', `/v2.0/security-group-rules/${id(form, 'rule_id', 'Rule')}`);
      return { redirect: to(ctx, `/project/security-groups/${gid}`), message: 'Rule deleted.' };
    },
  },
};
