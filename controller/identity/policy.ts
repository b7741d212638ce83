import { readFileSync } from 'node:fs';
import { Forbidden } from '../../shared/errors/index.js';
import type { AuthContext, Policy, PolicyTarget } from '../http/auth.js';

/**
 * The job of oslo.policy: every API action has a rule, written in oslo.policy's
 * expression language:
 *
 *   role:admin or (role:member and project_id:%(project_id)s)
 *   rule:admin_required   @ (always)   ! (never)   "" (always)   not X
 *   user_id:%(user_id)s   is_admin:True   'literal':%(target_key)s
 *
 * Left of `:` is a credential of the caller (role, user_id, project_id, domain_id,
 * project_domain_id, user_domain_id, is_admin) or `rule`; right of it a literal or
 * `%(key)s` taken from the target (dotted keys reach into objects; a missing key
 * fails the check). Defaults live in code; a JSON policy file overrides any of them.
 * As in Nova, a target without `project_id`/`user_id` gets the caller's.
 */
type Node =
  | { t: 'const'; v: boolean }
  | { t: 'and' | 'or'; a: Node[] }
  | { t: 'not'; a: Node }
  | { t: 'check'; kind: string; match: string };

export class PolicySyntaxError extends Error {}

/** Whitespace-separated chunks with leading '(' and trailing ')' split off (`%(key)s` stays whole). */
function tokenize(s: string): string[] {
  const out: string[] = [];
  for (let chunk of s.split(/\s+/).filter(Boolean)) {
    while (chunk.startsWith('(')) {
      out.push('(');
      chunk = chunk.slice(1);
    }
    let close = 0;
    while (chunk.endsWith(')')) {
      close++;
      chunk = chunk.slice(0, -1);
    }
    if (chunk) out.push(chunk);
    for (; close > 0; close--) out.push(')');
  }
  return out;
}

/** Parses one rule; throws PolicySyntaxError naming the problem. */
export function parseRule(text: string): Node {
  const toks = tokenize(text);
  if (!toks.length) return { t: 'const', v: true };
  let i = 0;
  const peek = () => toks[i];
  const orExpr = (): Node => {
    const a = [andExpr()];
    while (peek()?.toLowerCase() === 'or') {
      i++;
      a.push(andExpr());
    }
    return a.length === 1 ? a[0]! : { t: 'or', a };
  };
  const andExpr = (): Node => {
    const a = [notExpr()];
    while (peek()?.toLowerCase() === 'and') {
      i++;
      a.push(notExpr());
    }
    return a.length === 1 ? a[0]! : { t: 'and', a };
  };
  const notExpr = (): Node => {
    if (peek()?.toLowerCase() === 'not') {
      i++;
      return { t: 'not', a: notExpr() };
    }
    return atom();
  };
  const atom = (): Node => {
    const tok = toks[i++];
    if (tok === undefined) throw new PolicySyntaxError(`unexpected end of rule '${text}'`);
    if (tok === '(') {
      const n = orExpr();
      if (toks[i++] !== ')') throw new PolicySyntaxError(`missing ')' in rule '${text}'`);
      return n;
    }
    if (tok === '@') return { t: 'const', v: true };
    if (tok === '!') return { t: 'const', v: false };
    const c = tok.indexOf(':');
    if (c <= 0) throw new PolicySyntaxError(`'${tok}' is not a check (kind:match) in rule '${text}'`);
    return { t: 'check', kind: tok.slice(0, c), match: tok.slice(c + 1) };
  };
  const n = orExpr();
  if (i !== toks.length) throw new PolicySyntaxError(`unexpected '${toks[i]}' in rule '${text}'`);
  return n;
}

const ADMIN = 'role:admin';
/** Defaults in code: the named base rules and Keystone's own actions. */
export const DEFAULT_RULES: Record<string, string> = {
  admin_required: ADMIN,
  service_role: 'role:service',
  owner: 'user_id:%(user_id)s',
  admin_or_owner: 'rule:admin_required or rule:owner',
  project_reader: 'role:reader and project_id:%(project_id)s',
  project_member: 'role:member and project_id:%(project_id)s',
  reader: 'rule:admin_required or rule:project_reader',
  member: 'rule:admin_required or rule:project_member',
  /** Actions nobody registered: reading needs reader, anything else member, on the target's project. */
  default_read: 'rule:reader',
  default: 'rule:member',

  'identity:get_domain': 'rule:admin_required or domain_id:%(domain_id)s or project_domain_id:%(domain_id)s',
  'identity:list_domains': ADMIN,
  'identity:create_domain': ADMIN,
  'identity:update_domain': ADMIN,
  'identity:delete_domain': ADMIN,
  'identity:get_project': 'rule:admin_required or project_id:%(project_id)s',
  'identity:list_projects': ADMIN,
  'identity:list_user_projects': 'rule:admin_or_owner',
  'identity:create_project': ADMIN,
  'identity:update_project': ADMIN,
  'identity:delete_project': ADMIN,
  'identity:get_user': 'rule:admin_or_owner',
  'identity:list_users': ADMIN,
  'identity:create_user': ADMIN,
  'identity:update_user': ADMIN,
  'identity:delete_user': ADMIN,
  'identity:get_group': ADMIN,
  'identity:list_groups': ADMIN,
  'identity:list_groups_for_user': 'rule:admin_or_owner',
  'identity:create_group': ADMIN,
  'identity:update_group': ADMIN,
  'identity:delete_group': ADMIN,
  'identity:list_users_in_group': ADMIN,
  'identity:add_user_to_group': ADMIN,
  'identity:remove_user_from_group': ADMIN,
  'identity:check_user_in_group': ADMIN,
  'identity:get_role': ADMIN,
  'identity:list_roles': ADMIN,
  'identity:create_role': ADMIN,
  'identity:update_role': ADMIN,
  'identity:delete_role': ADMIN,
  'identity:get_implied_role': ADMIN,
  'identity:list_implied_roles': ADMIN,
  'identity:list_role_inference_rules': ADMIN,
  'identity:create_implied_role': ADMIN,
  'identity:delete_implied_role': ADMIN,
  'identity:check_grant': ADMIN,
  'identity:list_grants': ADMIN,
  'identity:create_grant': ADMIN,
  'identity:revoke_grant': ADMIN,
  'identity:list_role_assignments': 'rule:admin_or_owner',
  'identity:list_system_grants_for_user': ADMIN,
  'identity:check_system_grant_for_user': ADMIN,
  'identity:create_system_grant_for_user': ADMIN,
  'identity:revoke_system_grant_for_user': ADMIN,
  'identity:list_system_grants_for_group': ADMIN,
  'identity:check_system_grant_for_group': ADMIN,
  'identity:create_system_grant_for_group': ADMIN,
  'identity:revoke_system_grant_for_group': ADMIN,
  'identity:get_region': '@',
  'identity:list_regions': '@',
  'identity:create_region': ADMIN,
  'identity:update_region': ADMIN,
  'identity:delete_region': ADMIN,
  'identity:get_service': ADMIN,
  'identity:list_services': ADMIN,
  'identity:create_service': ADMIN,
  'identity:update_service': ADMIN,
  'identity:delete_service': ADMIN,
  'identity:get_endpoint': ADMIN,
  'identity:list_endpoints': ADMIN,
  'identity:create_endpoint': ADMIN,
  'identity:update_endpoint': ADMIN,
  'identity:delete_endpoint': ADMIN,
  'identity:get_application_credential': 'rule:admin_or_owner',
  'identity:list_application_credentials': 'rule:admin_or_owner',
  'identity:create_application_credential': 'rule:owner',
  'identity:delete_application_credential': 'rule:admin_or_owner',
  'identity:get_credential': 'rule:admin_or_owner',
  /** Everyone may list; each credential is then shown only if get_credential allows it (as Keystone filters). */
  'identity:list_credentials': '@',
  'identity:create_credential': 'rule:admin_or_owner',
  'identity:update_credential': 'rule:admin_or_owner',
  'identity:delete_credential': 'rule:admin_or_owner',
  'identity:ec2_get_credential': 'rule:admin_or_owner',
  'identity:ec2_list_credentials': 'rule:admin_or_owner',
  'identity:ec2_create_credential': 'rule:admin_or_owner',
  'identity:ec2_delete_credential': 'rule:admin_or_owner',
  'identity:get_endpoint_group': ADMIN,
  'identity:list_endpoint_groups': ADMIN,
  'identity:create_endpoint_group': ADMIN,
  'identity:update_endpoint_group': ADMIN,
  'identity:delete_endpoint_group': ADMIN,
  'identity:list_endpoints_associated_with_endpoint_group': ADMIN,
  'identity:get_policy': ADMIN,
  'identity:list_policies': ADMIN,
  'identity:create_policy': ADMIN,
  'identity:update_policy': ADMIN,
  'identity:delete_policy': ADMIN,
  'identity:get_project_tag': 'rule:admin_required or project_id:%(project_id)s',
  'identity:list_project_tags': 'rule:admin_required or project_id:%(project_id)s',
  'identity:create_project_tag': ADMIN,
  'identity:update_project_tags': ADMIN,
  'identity:delete_project_tag': ADMIN,
  'identity:delete_project_tags': ADMIN,
  'identity:validate_token': 'rule:admin_required or rule:service_role or rule:owner',
  'identity:check_token': 'rule:admin_required or rule:service_role or rule:owner',
  'identity:revoke_token': 'rule:admin_required or rule:service_role or rule:owner',
  'identity:get_auth_catalog': '@',
  'identity:get_auth_projects': '@',
  'identity:get_auth_domains': '@',
  'identity:get_auth_system': '@',
};

const READ_ACTION = /(^|[:_])(get|list|show|index|detail|read|check)([_:]|s?$)/;

function credentials(ctx: AuthContext): Record<string, unknown> {
  return {
    user_id: ctx.userId,
    user_domain_id: ctx.userDomainId,
    project_id: ctx.projectId,
    project_domain_id: ctx.projectDomainId,
    domain_id: ctx.domainId,
    is_admin: ctx.isAdmin,
  };
}

function lookup(target: Record<string, unknown>, key: string): unknown {
  const k = key.startsWith('target.') ? key.slice(7) : key;
  if (k in target) return target[k];
  let v: unknown = target;
  for (const part of k.split('.')) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[part];
  }
  return v;
}

const str = (v: unknown): string => (typeof v === 'boolean' ? (v ? 'True' : 'False') : String(v));

export class PolicyEngine implements Policy {
  private readonly defaults = new Map<string, Node>();
  private readonly overrides = new Map<string, Node>();

  constructor(overrides: Record<string, string> = {}) {
    this.register(DEFAULT_RULES);
    for (const [k, v] of Object.entries(overrides)) {
      if (typeof v !== 'string') throw new PolicySyntaxError(`policy rule '${k}' is not a string`);
      this.overrides.set(k, parseRule(v));
    }
  }

  /** Reads a JSON policy file ({"action or rule name": "expression"}). */
  static fromFile(path: string): PolicyEngine {
    let data: unknown;
    try {
      data = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new PolicySyntaxError(`policy file ${path}: ${(e as Error).message}`);
    }
    if (!data || typeof data !== 'object' || Array.isArray(data))
      throw new PolicySyntaxError(`policy file ${path}: expected a JSON object`);
    try {
      return new PolicyEngine(data as Record<string, string>);
    } catch (e) {
      throw new PolicySyntaxError(`policy file ${path}: ${(e as Error).message}`);
    }
  }

  /** Services add the defaults of their own actions (the policy file still wins). */
  register(rules: Record<string, string>): void {
    for (const [k, v] of Object.entries(rules)) this.defaults.set(k, parseRule(v));
  }

  private rule(name: string): Node | undefined {
    return this.overrides.get(name) ?? this.defaults.get(name);
  }

  private ruleFor(action: string): Node {
    const r = this.rule(action);
    if (r) return r;
    const last = action.split(':').pop() ?? action;
    return this.rule(READ_ACTION.test(last) ? 'default_read' : 'default')!;
  }

  allowed(action: string, ctx: AuthContext, target: PolicyTarget = {}): boolean {
    const t: Record<string, unknown> = { ...target };
    if (!('project_id' in t)) t.project_id = ctx.projectId;
    if (!('user_id' in t)) t.user_id = ctx.userId;
    const creds = credentials(ctx);
    const roles = new Set(ctx.roles.map((r) => r.toLowerCase()));
    const seen = new Set<string>();
    const evalNode = (n: Node): boolean => {
      switch (n.t) {
        case 'const':
          return n.v;
        case 'and':
          return n.a.every(evalNode);
        case 'or':
          return n.a.some(evalNode);
        case 'not':
          return !evalNode(n.a);
        case 'check': {
          if (n.kind === 'rule') {
            const r = this.rule(n.match);
            if (!r || seen.has(n.match)) return false;
            seen.add(n.match);
            const v = evalNode(r);
            seen.delete(n.match);
            return v;
          }
          let match = n.match;
          const m = /^%\(([^)]+)\)s$/.exec(match);
          if (m) {
            const v = lookup(t, m[1]!);
            if (v === undefined || v === null) return false;
            match = str(v);
          }
          if (n.kind === 'role') return roles.has(match.toLowerCase());
          const lit = /^'(.*)'$/.exec(n.kind);
          if (lit) return lit[1] === match;
          const c = creds[n.kind];
          if (c === undefined || c === null) return false;
          return Array.isArray(c) ? c.map(str).includes(match) : str(c) === match;
        }
      }
    };
    return evalNode(this.ruleFor(action));
  }

  enforce(action: string, ctx: AuthContext, target?: PolicyTarget): void {
    if (!this.allowed(action, ctx, target)) {
      throw new Forbidden(`You are not authorized to perform the requested action: ${action}.`);
    }
  }
}
