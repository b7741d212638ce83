import type { AuthContext } from '../http/auth.js';
import { newUuid } from '../../shared/util/ids.js';
import { SecurityGroupCreate, SecurityGroupRuleCreate, SecurityGroupUpdate } from '../../shared/api/network.js';
import type { Static } from 'typebox';
import { ts } from './common.js';
import { enforce, isAdmin, ownerOf, ownsProject, type Svc } from './context.js';
import {
  InvalidInput,
  SecurityGroupCannotRemoveDefault,
  SecurityGroupCannotUpdateDefault,
  SecurityGroupDefaultAlreadyExists,
  SecurityGroupInUse,
  SecurityGroupInvalidIcmpValue,
  SecurityGroupInvalidPortRange,
  SecurityGroupInvalidPortValue,
  SecurityGroupMissingIcmpType,
  SecurityGroupNotFound,
  SecurityGroupRuleExists,
  SecurityGroupRuleNotFound,
} from './errors.js';
import { canonicalIp, cidrText, parseCidr } from '../../shared/util/ip.js';
import { portSgRepo } from './ports.repo.js';
import { checkQuota } from './quotas.service.js';
import { defaultGroupRepo, groupsRepo, rulesRepo, type RuleRow, type SecurityGroupRow } from './secgroups.repo.js';

/** IP protocol names Neutron accepts, with their numbers. */
export const PROTOCOLS: Record<string, number> = {
  ah: 51,
  dccp: 33,
  egp: 8,
  esp: 50,
  gre: 47,
  icmp: 1,
  icmpv6: 58,
  igmp: 2,
  ipip: 4,
  'ipv6-encap': 41,
  'ipv6-frag': 44,
  'ipv6-icmp': 58,
  'ipv6-nonxt': 59,
  'ipv6-opts': 60,
  'ipv6-route': 43,
  ospf: 89,
  pgm: 113,
  rsvp: 46,
  sctp: 132,
  tcp: 6,
  udp: 17,
  udplite: 136,
  vrrp: 112,
};
const PORT_PROTOCOLS = new Set([6, 17, 132, 33, 136]);
const ICMP_PROTOCOLS = new Set([1, 58]);

/** The protocol number of a rule's protocol (null = any). */
export function protocolNumber(p: string | null): number | null {
  if (p === null) return null;
  return /^\d+$/.test(p) ? Number(p) : (PROTOCOLS[p] ?? null);
}

export function ruleView(r: RuleRow): Record<string, unknown> {
  const c = r.remote_ip_prefix ? parseCidr(r.remote_ip_prefix) : null;
  return {
    id: r.id,
    security_group_id: r.security_group_id,
    direction: r.direction,
    ethertype: r.ethertype,
    protocol: r.protocol,
    port_range_min: r.port_range_min,
    port_range_max: r.port_range_max,
    remote_ip_prefix: r.remote_ip_prefix,
    remote_group_id: r.remote_group_id,
    remote_address_group_id: null,
    normalized_cidr: c ? cidrText(c) : null,
    description: r.description,
    tenant_id: r.project_id,
    project_id: r.project_id,
    created_at: r.created_at,
    updated_at: r.updated_at,
    revision_number: r.revision_number,
    tags: [],
  };
}

export function groupView(s: Svc, g: SecurityGroupRow): Record<string, unknown> {
  return {
    id: g.id,
    name: g.name,
    description: g.description,
    tenant_id: g.project_id,
    project_id: g.project_id,
    stateful: g.stateful,
    shared: false,
    tags: g.tags,
    created_at: g.created_at,
    updated_at: g.updated_at,
    revision_number: g.revision_number,
    security_group_rules: rulesRepo.where(s.db, { security_group_id: g.id }).map(ruleView),
  };
}

function newRule(g: SecurityGroupRow, r: Partial<RuleRow> & Pick<RuleRow, 'direction' | 'ethertype'>, now: string): RuleRow {
  return {
    id: newUuid(),
    security_group_id: g.id,
    project_id: g.project_id,
    protocol: null,
    port_range_min: null,
    port_range_max: null,
    remote_ip_prefix: null,
    remote_group_id: null,
    description: '',
    revision_number: 0,
    created_at: now,
    updated_at: now,
    ...r,
  };
}

function insertGroup(
  s: Svc,
  projectId: string,
  name: string,
  description: string,
  stateful: boolean,
  isDefault: boolean,
): SecurityGroupRow {
  const now = ts();
  const g: SecurityGroupRow = {
    id: newUuid(),
    project_id: projectId,
    name,
    description,
    stateful,
    tags: [],
    revision_number: 0,
    created_at: now,
    updated_at: now,
  };
  groupsRepo.insert(s.db, g);
  // Neutron's defaults: all egress; the default group also admits its own members.
  for (const ethertype of ['IPv4', 'IPv6'] as const) {
    rulesRepo.insert(s.db, newRule(g, { direction: 'egress', ethertype }, now));
    if (isDefault) rulesRepo.insert(s.db, newRule(g, { direction: 'ingress', ethertype, remote_group_id: g.id }, now));
  }
  if (isDefault) defaultGroupRepo.set(s.db, projectId, g.id);
  return g;
}

/** The project's `default` group, created (with Neutron's default rules) on first use. */
export function ensureDefaultGroup(s: Svc, projectId: string): string {
  return s.db
    .transaction(() => {
      const have = defaultGroupRepo.get(s.db, projectId);
      if (have) return have;
      return insertGroup(s, projectId, 'default', 'Default security group', true, true).id;
    })
    .immediate();
}

export function getGroup(s: Svc, ctx: AuthContext | null, id: string): SecurityGroupRow {
  const g = groupsRepo.get(s.db, id);
  if (!g || !ownsProject(ctx, g.project_id)) throw new SecurityGroupNotFound(id);
  return g;
}

export function listGroups(s: Svc, ctx: AuthContext, projectFilter: string[]): SecurityGroupRow[] {
  if (ctx.projectId) ensureDefaultGroup(s, ctx.projectId);
  if (ctx.isAdmin) for (const p of projectFilter) if (p && s.projectExists(p)) ensureDefaultGroup(s, p);
  enforce(s, 'network:get_security_group', ctx, { project_id: ctx.projectId });
  return groupsRepo.where(s.db).filter((g) => ownsProject(ctx, g.project_id));
}

export function createGroup(s: Svc, ctx: AuthContext, b: Static<typeof SecurityGroupCreate>): SecurityGroupRow {
  const projectId = ownerOf(ctx, b);
  enforce(s, 'network:create_security_group', ctx, { project_id: projectId });
  ensureDefaultGroup(s, projectId);
  // Neutron's `type:name_not_default` validator (neutron/extensions/securitygroup.py), case-insensitive.
  if (b.name?.toLowerCase() === 'default') throw new SecurityGroupDefaultAlreadyExists();
  const g = s.db
    .transaction(() => {
      checkQuota(s, projectId, 'security_group');
      const g = insertGroup(s, projectId, b.name ?? '', b.description ?? '', b.stateful ?? true, false);
      if (b.tags?.length) return groupsRepo.update(s.db, { ...g, tags: b.tags });
      return g;
    })
    .immediate();
  return g;
}

export function updateGroup(s: Svc, ctx: AuthContext, id: string, b: Static<typeof SecurityGroupUpdate>): SecurityGroupRow {
  const g = getGroup(s, ctx, id);
  enforce(s, 'network:update_security_group', ctx, { project_id: g.project_id });
  // The same validator on update (renaming any group to "default"), then
  // update_security_group's own refusal to rename the default group: both 409.
  if (b.name?.toLowerCase() === 'default') throw new SecurityGroupDefaultAlreadyExists();
  if (b.name !== undefined && b.name !== g.name && defaultGroupRepo.isDefault(s.db, id))
    throw new SecurityGroupCannotUpdateDefault();
  const next = {
    ...g,
    name: b.name ?? g.name,
    description: b.description ?? g.description,
    stateful: b.stateful ?? g.stateful,
    tags: b.tags ?? g.tags,
    updated_at: ts(),
  };
  const out = groupsRepo.update(s.db, next);
  s.changed('security group updated');
  return out;
}

export function deleteGroup(s: Svc, ctx: AuthContext, id: string): void {
  const g = getGroup(s, ctx, id);
  enforce(s, 'network:delete_security_group', ctx, { project_id: g.project_id });
  s.db
    .transaction(() => {
      if (defaultGroupRepo.isDefault(s.db, id) && !isAdmin(ctx)) throw new SecurityGroupCannotRemoveDefault();
      if (portSgRepo.portsUsing(s.db, id) > 0) throw new SecurityGroupInUse(id);
      // Rules of other groups naming it as remote_group_id go with it (Neutron's cascade).
      defaultGroupRepo.forget(s.db, id);
      groupsRepo.delete(s.db, id);
    })
    .immediate();
  s.changed('security group deleted');
}

export function getRule(s: Svc, ctx: AuthContext | null, id: string): RuleRow {
  const r = rulesRepo.get(s.db, id);
  if (!r || !ownsProject(ctx, r.project_id)) throw new SecurityGroupRuleNotFound(id);
  return r;
}

export function listRules(s: Svc, ctx: AuthContext): RuleRow[] {
  if (ctx.projectId) ensureDefaultGroup(s, ctx.projectId);
  return rulesRepo.where(s.db).filter((r) => ownsProject(ctx, r.project_id));
}

/** Validates and normalises a rule request (Neutron's checks, each naming the attribute). */
export function normaliseRule(
  b: SecurityGroupRuleCreate,
): Omit<RuleRow, 'id' | 'security_group_id' | 'project_id' | 'revision_number' | 'created_at' | 'updated_at'> {
  if (!b.direction) throw new InvalidInput("'direction' is required: ingress or egress.");
  const ethertype = b.ethertype ?? 'IPv4';
  let protocol: string | null = b.protocol === null || b.protocol === undefined ? null : String(b.protocol).toLowerCase();
  if (protocol === 'any' || protocol === '') protocol = null;
  if (protocol !== null && !/^\d+$/.test(protocol) && !(protocol in PROTOCOLS)) {
    throw new InvalidInput(
      `Security group rule protocol ${protocol} not supported. Only protocol values [${Object.keys(PROTOCOLS).join(', ')}] and integer representations [0 to 255] are supported.`,
    );
  }
  if (protocol !== null && /^\d+$/.test(protocol) && Number(protocol) > 255)
    throw new InvalidInput(`protocol ${protocol} is out of range 0-255.`);
  const num = protocolNumber(protocol);
  const min = b.port_range_min ?? null,
    max = b.port_range_max ?? null;
  // Neutron's convert_validate_port_value on each attribute first (0-65535), then
  // securitygroups_db._validate_port_range, with the messages clients read.
  for (const p of [min, max]) if (p !== null && (p < 0 || p > 65535)) throw new SecurityGroupInvalidPortValue(p);
  if (min !== null || max !== null) {
    if (num === null) throw new InvalidInput('Must also specify protocol if port range is given.');
    if (PORT_PROTOCOLS.has(num)) {
      if (min === 0 || max === 0) throw new SecurityGroupInvalidPortValue(0);
      // A lone port_range_min is one port (port_range_max defaults to it below).
      if (min === null || (max !== null && min > max)) throw new SecurityGroupInvalidPortRange();
    } else if (ICMP_PROTOCOLS.has(num)) {
      if (min !== null && min > 255) throw new SecurityGroupInvalidIcmpValue('type', 'port_range_min', min);
      if (max !== null && max > 255) throw new SecurityGroupInvalidIcmpValue('code', 'port_range_max', max);
      if (min === null && max !== null) throw new SecurityGroupMissingIcmpType(max);
    } else
      throw new InvalidInput(
        `Port ranges are only supported for TCP, UDP, SCTP, DCCP, UDP-Lite and ICMP, not protocol ${protocol}.`,
      );
  }
  if (b.remote_ip_prefix && b.remote_group_id)
    throw new InvalidInput('Only remote_ip_prefix or remote_group_id may be provided.');
  let prefix: string | null = null;
  if (b.remote_ip_prefix) {
    const c = parseCidr(
      b.remote_ip_prefix.includes('/')
        ? b.remote_ip_prefix
        : `${b.remote_ip_prefix}/${canonicalIp(b.remote_ip_prefix)?.includes(':') ? 128 : 32}`,
    );
    if (!c) throw new InvalidInput(`'${b.remote_ip_prefix}' is not a valid IP subnet (remote_ip_prefix).`);
    if ((c.version === 4 ? 'IPv4' : 'IPv6') !== ethertype) {
      throw new InvalidInput(`Conflicting value ethertype ${ethertype} for CIDR ${b.remote_ip_prefix}.`);
    }
    // Neutron stores a bare address as a host prefix (192.0.2.7 → 192.0.2.7/32).
    prefix = b.remote_ip_prefix.includes('/')
      ? b.remote_ip_prefix
      : `${canonicalIp(b.remote_ip_prefix)}/${c.version === 4 ? 32 : 128}`;
  }
  if (ethertype === 'IPv4' && (protocol === 'icmpv6' || protocol === 'ipv6-icmp'))
    throw new InvalidInput(`Protocol ${protocol} is not supported with ethertype IPv4.`);
  return {
    direction: b.direction,
    ethertype,
    protocol,
    port_range_min: min,
    port_range_max: max ?? (num !== null && PORT_PROTOCOLS.has(num) ? min : null),
    remote_ip_prefix: prefix,
    remote_group_id: b.remote_group_id ?? null,
    description: b.description ?? '',
  };
}

/** A comparable key: "any address" prefixes count as no prefix, names as numbers. */
function ruleKey(
  r: Pick<
    RuleRow,
    'direction' | 'ethertype' | 'protocol' | 'port_range_min' | 'port_range_max' | 'remote_ip_prefix' | 'remote_group_id'
  >,
): string {
  const c = r.remote_ip_prefix
    ? parseCidr(
        r.remote_ip_prefix.includes('/') ? r.remote_ip_prefix : `${r.remote_ip_prefix}/${r.ethertype === 'IPv4' ? 32 : 128}`,
      )
    : null;
  const prefix = c && c.prefix > 0 ? cidrText(c) : null;
  let proto = protocolNumber(r.protocol);
  if (proto === 58) proto = 58; // icmpv6 and ipv6-icmp are one protocol
  return JSON.stringify([r.direction, r.ethertype, proto, r.port_range_min, r.port_range_max, prefix, r.remote_group_id]);
}

export function createRule(s: Svc, ctx: AuthContext, b: SecurityGroupRuleCreate): RuleRow {
  const g = getGroup(s, ctx, b.security_group_id);
  enforce(s, 'network:create_security_group_rule', ctx, { project_id: g.project_id });
  const n = normaliseRule(b);
  if (n.remote_group_id) getGroup(s, ctx, n.remote_group_id);
  const r = s.db
    .transaction(() => {
      const key = ruleKey(n);
      const dup = rulesRepo.where(s.db, { security_group_id: g.id }).find((x) => ruleKey(x) === key);
      if (dup) throw new SecurityGroupRuleExists(dup.id);
      checkQuota(s, g.project_id, 'security_group_rule');
      const now = ts();
      const r: RuleRow = {
        id: newUuid(),
        security_group_id: g.id,
        project_id: g.project_id,
        revision_number: 0,
        created_at: now,
        updated_at: now,
        ...n,
      };
      rulesRepo.insert(s.db, r);
      groupsRepo.update(s.db, { ...g, updated_at: now });
      return r;
    })
    .immediate();
  s.changed('security group rule created');
  return r;
}

export function deleteRule(s: Svc, ctx: AuthContext, id: string): void {
  const r = getRule(s, ctx, id);
  enforce(s, 'network:delete_security_group_rule', ctx, { project_id: r.project_id });
  rulesRepo.delete(s.db, id);
  s.changed('security group rule deleted');
}
