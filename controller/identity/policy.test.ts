import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../http/auth.js';
import { parseRule, PolicyEngine, PolicySyntaxError } from './policy.js';

function ctx(roles: string[], o: Partial<AuthContext> = {}): AuthContext {
  return {
    token: 't',
    userId: 'u1',
    userName: 'u',
    userDomainId: 'default',
    userDomainName: 'Default',
    projectId: 'p1',
    projectName: 'p',
    projectDomainId: 'default',
    roles,
    roleIds: roles,
    isAdmin: roles.includes('admin'),
    methods: ['password'],
    auditIds: ['a'],
    issuedAt: new Date(),
    expiresAt: new Date(),
    ...o,
  };
}

describe('policy engine', () => {
  const p = new PolicyEngine();

  it('parses oslo.policy expressions and rejects bad ones', () => {
    expect(parseRule('role:admin or (role:member and project_id:%(project_id)s)')).toMatchObject({ t: 'or' });
    expect(parseRule('')).toEqual({ t: 'const', v: true });
    expect(parseRule('not (role:a)')).toMatchObject({ t: 'not' });
    expect(() => parseRule('role:admin or')).toThrow(PolicySyntaxError);
    expect(() => parseRule('(role:admin')).toThrow(/missing '\)'/);
    expect(() => parseRule('admin')).toThrow(/not a check/);
  });

  it('applies the identity defaults: a member cannot list users or create projects', () => {
    expect(p.allowed('identity:list_users', ctx(['admin', 'member', 'reader']))).toBe(true);
    expect(p.allowed('identity:list_users', ctx(['member', 'reader']))).toBe(false);
    expect(() => p.enforce('identity:list_users', ctx(['member']))).toThrow(
      'You are not authorized to perform the requested action: identity:list_users.',
    );
    expect(p.allowed('identity:create_project', ctx(['member', 'reader']))).toBe(false);
    expect(p.allowed('identity:get_project', ctx(['member']), { project_id: 'p1' })).toBe(true);
    expect(p.allowed('identity:get_project', ctx(['member']), { project_id: 'p2' })).toBe(false);
    expect(p.allowed('identity:get_user', ctx(['reader']), { user_id: 'u1' })).toBe(true);
    expect(p.allowed('identity:get_user', ctx(['reader']), { user_id: 'u2' })).toBe(false);
  });

  it('gives unknown actions a sane default: reader reads, member writes, on the own project', () => {
    const reader = ctx(['reader']);
    const member = ctx(['member', 'reader']);
    expect(p.allowed('compute:servers:list', reader)).toBe(true); // target defaults to the caller's project
    expect(p.allowed('compute:servers:show', reader, { project_id: 'p1' })).toBe(true);
    expect(p.allowed('compute:servers:show', reader, { project_id: 'p2' })).toBe(false);
    expect(p.allowed('compute:servers:create', reader, { project_id: 'p1' })).toBe(false);
    expect(p.allowed('compute:servers:create', member, { project_id: 'p1' })).toBe(true);
    expect(p.allowed('compute:servers:delete', member, { project_id: 'p2' })).toBe(false);
    expect(p.allowed('compute:servers:delete', ctx(['admin']), { project_id: 'p2' })).toBe(true);
    expect(p.allowed('network:create_port', member, { project_id: null })).toBe(false);
  });

  it('is overridden by a JSON policy file and lets services register defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hs-policy-'));
    const f = join(dir, 'policy.json');
    writeFileSync(
      f,
      JSON.stringify({ 'identity:list_users': 'role:reader', 'compute:servers:create': '!', is_adm: 'is_admin:True' }),
    );
    const q = PolicyEngine.fromFile(f);
    expect(q.allowed('identity:list_users', ctx(['reader']))).toBe(true);
    expect(q.allowed('compute:servers:create', ctx(['admin']))).toBe(false);
    q.register({ 'image:publicize': 'rule:is_adm', 'compute:servers:create': '@' });
    expect(q.allowed('image:publicize', ctx(['admin']))).toBe(true);
    expect(q.allowed('image:publicize', ctx(['member']))).toBe(false);
    expect(q.allowed('compute:servers:create', ctx(['admin']))).toBe(false); // the file still wins
    writeFileSync(f, '{"x": "role:"');
    expect(() => PolicyEngine.fromFile(f)).toThrow(/policy file/);
    writeFileSync(f, '{"x": "role:a and and"}');
    expect(() => PolicyEngine.fromFile(f)).toThrow(/policy file .*'and' is not a check/);
  });

  it('checks targets with dotted keys, literals and recursion guards', () => {
    const q = new PolicyEngine({ a: 'rule:b', b: 'rule:a', c: "'x':%(target.obj.k)s", d: 'domain_id:%(domain_id)s' });
    expect(q.allowed('a', ctx(['admin']))).toBe(false);
    expect(q.allowed('c', ctx([]), { obj: { k: 'x' } })).toBe(true);
    expect(q.allowed('c', ctx([]), { obj: { k: 'y' } })).toBe(false);
    expect(q.allowed('d', ctx([], { domainId: 'd1' }), { domain_id: 'd1' })).toBe(true);
    expect(q.allowed('d', ctx([]), { domain_id: 'd1' })).toBe(false);
    // Neutron-style literal checks on booleans and keys with a colon.
    q.register({ n: "rule:admin_required or project_id:%(project_id)s or 'True':%(shared)s or 'True':%(router:external)s" });
    const other = ctx(['member']);
    expect(q.allowed('n', other, { project_id: 'p9', shared: false, 'router:external': true })).toBe(true);
    expect(q.allowed('n', other, { project_id: 'p9', shared: true, 'router:external': false })).toBe(true);
    expect(q.allowed('n', other, { project_id: 'p9', shared: false, 'router:external': false })).toBe(false);
  });
});
