import { hostname } from 'node:os';
import { join } from 'node:path';
import type { ControllerConfig } from '../../shared/config/controller.js';
import { newHexId } from '../../shared/util/ids.js';
import { nowIso } from '../../shared/util/time.js';
import type { Db } from '../db/open.js';
import { schemeOf } from '../http/base-url.js';
import { migrate } from '../db/migrate.js';
import { DEFAULT_DOMAIN_ID, SERVICE_PROJECT, SERVICE_USER } from '../identity/core.js';
import { ensureKeyRepository, rotateKeyRepository } from '../identity/keys.js';
import { hashPassword, verifyPassword, DEFAULT_SCRYPT } from '../identity/passwords.js';
import {
  IdentityRepo,
  type ProjectRow,
  type RoleRow,
  type ServiceRow,
  type EndpointRow,
  type UserRow,
} from '../identity/identity.repo.js';

/**
 * `homestack bootstrap`: the Default domain, the admin and service projects, the admin
 * user, the roles admin ⇒ member ⇒ reader (immutable), the internal service user and
 * the catalog (identity, compute, image, network, volumev3, block-storage) with public,
 * internal and admin endpoints at the public URL in one region. Idempotent: run it again
 * to change the admin password or the public URL; nothing else is touched.
 */
export interface BootstrapOptions {
  adminPassword: string;
  /** Base URL clients use, e.g. http://192.0.2.10:8000 (default: config.public_url, else listen address). */
  publicUrl?: string;
  region?: string;
}

export interface BootstrapResult {
  publicUrl: string;
  region: string;
  adminUserId: string;
  adminProjectId: string;
  /** What this run created or changed ("created user admin", "updated endpoint ..."). */
  changes: string[];
}

/** Catalog entries: [type, name, path under the public URL]. */
export const CATALOG: ReadonlyArray<readonly [string, string, string]> = [
  ['identity', 'keystone', '/identity/v3'],
  ['compute', 'nova', '/compute/v2.1'],
  ['image', 'glance', '/image'],
  ['network', 'neutron', '/network'],
  ['volumev3', 'cinderv3', '/volume/v3/$(project_id)s'],
  ['block-storage', 'cinder', '/volume/v3/$(project_id)s'],
];
const INTERFACES = ['public', 'internal', 'admin'] as const;

export function defaultPublicUrl(config: ControllerConfig): string {
  if (config.public_url) return config.public_url.replace(/\/+$/, '');
  const host = config.listen.host === '0.0.0.0' || config.listen.host === '::' ? hostname() : config.listen.host;
  return `${schemeOf(config)}://${host.includes(':') ? `[${host}]` : host}:${config.listen.port}`;
}

export async function bootstrap(db: Db, config: ControllerConfig, o: BootstrapOptions): Promise<BootstrapResult> {
  if (!o.adminPassword) throw new Error('an admin password is required (--admin-password)');
  const publicUrl = (o.publicUrl || defaultPublicUrl(config)).replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+(\/\S*)?$/.test(publicUrl)) throw new Error(`the public URL '${publicUrl}' is not an http(s) URL`);
  const region = o.region || 'RegionOne';
  migrate(db);
  ensureKeyRepository(join(config.data_dir, 'fernet-keys'));
  const repo = new IdentityRepo(db);
  const scrypt = { ...DEFAULT_SCRYPT, N: 2 ** config.identity.scrypt_log_n };
  const changes: string[] = [];
  const now = nowIso();

  // Hash outside the transaction (scrypt is async).
  const existingAdmin = repo.list<UserRow>('users', { domain_id: DEFAULT_DOMAIN_ID, name: 'admin' })[0];
  const adminOk = existingAdmin?.password_hash
    ? await verifyPassword(o.adminPassword, existingAdmin.password_hash, existingAdmin.password_hash)
    : false;
  const adminHash = adminOk ? null : await hashPassword(o.adminPassword, scrypt);

  const result = repo.tx(() => {
    if (!repo.get('domains', DEFAULT_DOMAIN_ID)) {
      repo.insert('domains', { id: DEFAULT_DOMAIN_ID, name: 'Default', description: 'The default domain', created_at: now });
      changes.push('created domain Default');
    }
    const project = (name: string, description: string): string => {
      const p = repo.list<ProjectRow>('projects', { domain_id: DEFAULT_DOMAIN_ID, name })[0];
      if (p) return p.id;
      const id = newHexId();
      repo.insert('projects', { id, domain_id: DEFAULT_DOMAIN_ID, name, description, created_at: now });
      changes.push(`created project ${name}`);
      return id;
    };
    const adminProject = project('admin', 'Bootstrap project for initializing the cloud.');
    const serviceProject = project(SERVICE_PROJECT, 'Project of the internal service user.');

    const role = (name: string): string => {
      const r = repo.roleByName(name);
      if (r) return r.id;
      const id = newHexId();
      repo.insert('roles', { id, name, options: JSON.stringify({ immutable: true }), created_at: now });
      changes.push(`created role ${name}`);
      return id;
    };
    const [admin, member, reader] = [role('admin'), role('member'), role('reader')];
    for (const [prior, implied] of [
      [admin, member],
      [member, reader],
    ] as const) {
      if (!repo.implications().some((i) => i.prior_role_id === prior && i.implied_role_id === implied)) {
        repo.addImplication(prior, implied);
        changes.push(`${repo.get<RoleRow>('roles', prior)!.name} now implies ${repo.get<RoleRow>('roles', implied)!.name}`);
      }
    }

    let adminUser = existingAdmin?.id;
    if (!adminUser) {
      adminUser = newHexId();
      repo.insert('users', {
        id: adminUser,
        domain_id: DEFAULT_DOMAIN_ID,
        name: 'admin',
        password_hash: adminHash,
        default_project_id: adminProject,
        created_at: now,
      });
      changes.push('created user admin');
    } else if (adminHash) {
      repo.update('users', adminUser, { password_hash: adminHash, enabled: 1, failed_auth_count: 0, failed_auth_at: null });
      repo.addRevocation({
        kind: 'user',
        value: adminUser,
        revoked_at: Date.now(),
        expires_at: Date.now() + config.identity.token_ttl_s * 1000,
      });
      changes.push('changed the admin password');
    }
    let svcUser = repo.userByName(DEFAULT_DOMAIN_ID, SERVICE_USER)?.id;
    if (!svcUser) {
      svcUser = newHexId();
      // No password: only the controller mints its tokens (IdentityFacade.serviceToken).
      repo.insert('users', {
        id: svcUser,
        domain_id: DEFAULT_DOMAIN_ID,
        name: SERVICE_USER,
        default_project_id: serviceProject,
        created_at: now,
      });
      changes.push(`created user ${SERVICE_USER}`);
    }
    for (const [u, p] of [
      [adminUser, adminProject],
      [svcUser, serviceProject],
    ]) {
      const a = { actor_type: 'user', actor_id: u!, target_type: 'project', target_id: p!, role_id: admin } as const;
      if (!repo.assignments(a).length) {
        repo.grant(a);
        changes.push(
          `granted admin on ${p === adminProject ? 'admin' : SERVICE_PROJECT} to ${u === adminUser ? 'admin' : SERVICE_USER}`,
        );
      }
    }

    if (!repo.get('catalog_regions', region)) {
      repo.insert('catalog_regions', { id: region, created_at: now });
      changes.push(`created region ${region}`);
    }
    for (const [type, name, path] of CATALOG) {
      let svc = repo.list<ServiceRow>('catalog_services', { type, name })[0];
      if (!svc) {
        svc = { id: newHexId(), type, name, description: '', enabled: 1, extra: '{}', created_at: now };
        repo.insert('catalog_services', { ...svc });
        changes.push(`created service ${name} (${type})`);
      }
      const url = `${publicUrl}${path}`;
      const eps = repo.endpointsOfService(svc.id);
      for (const iface of INTERFACES) {
        const ep = eps.find((e: EndpointRow) => e.interface === iface && e.region_id === region);
        if (!ep) {
          repo.insert('catalog_endpoints', {
            id: newHexId(),
            service_id: svc.id,
            interface: iface,
            region_id: region,
            url,
            created_at: now,
          });
          changes.push(`created ${iface} endpoint ${url}`);
        } else if (ep.url !== url) {
          repo.update('catalog_endpoints', ep.id, { url });
          changes.push(`updated ${iface} endpoint ${ep.url} → ${url}`);
        }
      }
    }
    return { adminUserId: adminUser, adminProjectId: adminProject };
  });
  return { publicUrl, region, ...result, changes };
}

/**
 * `homestack identity rotate-keys` (Keystone's fernet_rotate): promote the staged key,
 * stage a new one, keep config.identity.max_active_keys keys. A running controller
 * picks the new keys up within a second. Returns the key indexes now present.
 */
export function rotateKeys(config: ControllerConfig): number[] {
  return rotateKeyRepository(join(config.data_dir, 'fernet-keys'), config.identity.max_active_keys);
}
