import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../http/auth.js';
import { PolicyEngine } from '../identity/policy.js';
import { IMAGE_RULES, registerImagePolicy } from './policy.js';

const ctx = (project: string, roles: string[]): AuthContext => ({
  token: 't',
  userId: 'u',
  userName: 'u',
  userDomainId: 'default',
  userDomainName: 'Default',
  projectId: project,
  roles,
  roleIds: roles,
  isAdmin: roles.includes('admin'),
  methods: ['password'],
  auditIds: [],
  issuedAt: new Date(),
  expiresAt: new Date(),
});

describe("image policy defaults on identity's engine", () => {
  const p = new PolicyEngine();
  registerImagePolicy(p);
  const owner = { project_id: 'pa' };
  const member = ctx('pb', ['member', 'reader']);

  it("lets another project read (visibility is the service's job) but not write", () => {
    expect(p.allowed('image:get_image', member, owner)).toBe(true);
    expect(p.allowed('image:download_image', member, owner)).toBe(true);
    expect(p.allowed('image:modify_member', member, owner)).toBe(true);
    expect(p.allowed('image:delete_image', member, owner)).toBe(false);
    expect(p.allowed('image:modify_image', member, owner)).toBe(false);
    expect(p.allowed('image:add_member', member, owner)).toBe(false);
  });

  it('lets the owner write, only admin publicize', () => {
    const o = ctx('pa', ['member', 'reader']);
    expect(p.allowed('image:modify_image', o, owner)).toBe(true);
    expect(p.allowed('image:communitize_image', o, owner)).toBe(true);
    expect(p.allowed('image:publicize_image', o, owner)).toBe(false);
    expect(p.allowed('image:publicize_image', ctx('px', ['admin', 'member', 'reader']), owner)).toBe(true);
    expect(p.allowed('image:add_image', ctx('pa', ['reader']), owner)).toBe(false);
  });

  it('leaves copy-image (copying into more stores) to the admin, as Glance does', () => {
    expect(p.allowed('image:copy_image', ctx('pa', ['member', 'reader']), owner)).toBe(false);
    expect(p.allowed('image:copy_image', ctx('px', ['admin', 'member', 'reader']), owner)).toBe(true);
  });

  it('lets anyone read metadata definitions and only the admin write them (Glance metadef_admin)', () => {
    expect(p.allowed('image:get_metadef_namespace', ctx('pa', ['reader']), owner)).toBe(true);
    expect(p.allowed('image:add_metadef_namespace', ctx('pa', ['member', 'reader']), owner)).toBe(false);
    expect(p.allowed('image:delete_metadef_tags', ctx('px', ['admin', 'member', 'reader']), owner)).toBe(true);
  });

  it('registers a rule for every action the service enforces, and no rule nothing enforces', () => {
    // The actions the image service's code enforces: `enforce('x', …)` (prefixed with
    // image: by ImagesService.enforce) and literal 'image:x' checks.
    const dir = import.meta.dirname;
    const enforced = new Set<string>();
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.ts') && !n.endsWith('.test.ts') && n !== 'policy.ts')) {
      const src = readFileSync(join(dir, f), 'utf8');
      for (const m of src.matchAll(/\benforce\('([a-z_]+)'/g)) enforced.add(`image:${m[1]}`);
      // MetadefService.forWrite(ctx, namespace, 'action', …) enforces its action too.
      for (const m of src.matchAll(/\bforWrite\(\s*ctx,\s*\w+,\s*'([a-z_]+)'/g)) enforced.add(`image:${m[1]}`);
      for (const m of src.matchAll(/'(image:[a-z_]+)'/g)) enforced.add(m[1]!);
    }
    expect(enforced.size).toBeGreaterThan(10);
    expect([...enforced].filter((a) => !(a in IMAGE_RULES))).toEqual([]);
    expect(Object.keys(IMAGE_RULES).filter((a) => !enforced.has(a))).toEqual([]);
  });
});
