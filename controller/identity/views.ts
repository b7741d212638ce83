import type {
  AppCredRow,
  CredentialRow,
  DomainRow,
  EndpointRow,
  GroupRow,
  PolicyRow,
  ProjectRow,
  RegionRow,
  RoleRow,
  ServiceRow,
  UserRow,
} from './identity.repo.js';
import { parseJson } from './input.js';
import { keystoneTime, pythonIsoTime } from '../../shared/util/time.js';

/**
 * Keystone's JSON documents for each resource. `base` is the identity root URL as the
 * client reached it (e.g. http://host:8000/identity/v3), for `links`.
 */
const obj = (s: string) => parseJson<Record<string, unknown>>(s, {});
const arr = (s: string) => parseJson<unknown[]>(s, []);

export function listLinks(base: string, path: string, query?: string) {
  return { self: `${base}/${path}${query ? `?${query}` : ''}`, previous: null, next: null };
}

export function domainView(base: string, d: DomainRow) {
  return {
    ...obj(d.extra),
    id: d.id,
    name: d.name,
    description: d.description,
    enabled: !!d.enabled,
    tags: arr(d.tags),
    options: obj(d.options),
    links: { self: `${base}/domains/${d.id}` },
  };
}

export function projectView(base: string, p: ProjectRow) {
  return {
    ...obj(p.extra),
    id: p.id,
    name: p.name,
    domain_id: p.domain_id,
    description: p.description,
    enabled: !!p.enabled,
    parent_id: p.parent_id ?? p.domain_id,
    is_domain: false,
    tags: arr(p.tags),
    options: obj(p.options),
    links: { self: `${base}/projects/${p.id}` },
  };
}

export function userView(base: string, u: UserRow) {
  const v: Record<string, unknown> = {
    ...obj(u.extra),
    id: u.id,
    name: u.name,
    domain_id: u.domain_id,
    enabled: !!u.enabled,
    password_expires_at: null,
    options: obj(u.options),
    links: { self: `${base}/users/${u.id}` },
  };
  if (u.default_project_id) v.default_project_id = u.default_project_id;
  return v;
}

export function groupView(base: string, g: GroupRow) {
  return {
    ...obj(g.extra),
    id: g.id,
    name: g.name,
    domain_id: g.domain_id,
    description: g.description,
    links: { self: `${base}/groups/${g.id}` },
  };
}

export function roleView(base: string, r: RoleRow) {
  return {
    ...obj(r.extra),
    id: r.id,
    name: r.name,
    domain_id: r.domain_id,
    description: r.description,
    options: obj(r.options),
    links: { self: `${base}/roles/${r.id}` },
  };
}

export const roleRef = (base: string, r: RoleRow) => ({ id: r.id, name: r.name, links: { self: `${base}/roles/${r.id}` } });

export function regionView(base: string, r: RegionRow) {
  return {
    ...obj(r.extra),
    id: r.id,
    description: r.description,
    parent_region_id: r.parent_region_id,
    links: { self: `${base}/regions/${r.id}` },
  };
}

export function serviceView(base: string, s: ServiceRow) {
  return {
    ...obj(s.extra),
    id: s.id,
    type: s.type,
    name: s.name,
    description: s.description,
    enabled: !!s.enabled,
    links: { self: `${base}/services/${s.id}` },
  };
}

export function endpointView(base: string, e: EndpointRow) {
  return {
    ...obj(e.extra),
    id: e.id,
    interface: e.interface,
    region_id: e.region_id,
    region: e.region_id,
    url: e.url,
    service_id: e.service_id,
    enabled: !!e.enabled,
    links: { self: `${base}/endpoints/${e.id}` },
  };
}

export function appCredView(base: string, a: AppCredRow, roles: RoleRow[]) {
  return {
    id: a.id,
    name: a.name,
    description: a.description,
    user_id: a.user_id,
    project_id: a.project_id,
    roles: roles.map((r) => ({ id: r.id, name: r.name, domain_id: r.domain_id })),
    unrestricted: !!a.unrestricted,
    expires_at: a.expires_at === null ? null : pythonIsoTime(a.expires_at),
    access_rules: [],
    links: { self: `${base}/users/${a.user_id}/application_credentials/${a.id}` },
  };
}

export function credentialView(base: string, c: CredentialRow) {
  return {
    ...obj(c.extra),
    id: c.id,
    user_id: c.user_id,
    project_id: c.project_id,
    type: c.type,
    blob: c.blob,
    links: { self: `${base}/credentials/${c.id}` },
  };
}

/** OS-EC2: the blob's keys beside the owner (keystone/api/users.py _convert_v3_to_ec2_credential). */
export function ec2View(base: string, c: CredentialRow) {
  const blob = obj(c.blob);
  return {
    user_id: c.user_id,
    tenant_id: c.project_id,
    access: blob.access ?? null,
    secret: blob.secret ?? null,
    trust_id: blob.trust_id ?? null,
    links: { self: `${base}/users/${c.user_id}/credentials/OS-EC2/${blob.access}` },
  };
}

export function policyView(base: string, p: PolicyRow) {
  return { ...obj(p.extra), id: p.id, type: p.type, blob: p.blob, links: { self: `${base}/policies/${p.id}` } };
}
