import { createHash, randomUUID } from 'node:crypto';
import { BadRequest, Conflict, Forbidden, NotFound } from '../../shared/errors/index.js';
import { newHexId } from '../../shared/util/ids.js';
import { nowIso } from '../../shared/util/time.js';
import type { CredentialCreate, CredentialUpdate, PolicyCreate, PolicyUpdate } from '../../shared/api/identity.js';
import type { IdentityCore } from './core.js';
import type { CredentialRow, PolicyRow } from './identity.repo.js';
import { extras, parseJson } from './input.js';

/**
 * Keystone's credentials API (/v3/credentials), OS-EC2 user credentials (credentials of
 * type `ec2` whose id is sha256 of the access key, as keystone/api/credentials.py
 * assigns it) and the policies API (/v3/policies: blobs kept for other services).
 * Blobs are stored as sent; Keystone encrypts them at rest with its credential keys,
 * Homestack relies on the data directory's permissions (as for the fernet keys).
 */
const EC2 = 'ec2';
const CRED_FIELDS = ['id', 'user_id', 'project_id', 'type', 'blob'] as const;
const POLICY_FIELDS = ['id', 'type', 'blob'] as const;

/** Keystone's ValidationError "Expecting to find <attribute> in <target>." */
const missing = (attribute: string, target: string) =>
  new BadRequest(
    `Expecting to find ${attribute} in ${target}. The server could not comply with the request since it is either malformed or otherwise incorrect. The client is assumed to be in error.`,
    'ValidationError',
  );

export const credentialNotFound = (id: string) => new NotFound(`Could not find credential: ${id}.`);

/** The access key of an ec2 blob; Keystone's checks and messages. */
function ec2Access(blob: string): { access: string; parsed: Record<string, unknown> } {
  const parsed = parseJson<unknown>(blob, undefined);
  if (parsed === undefined) throw new BadRequest('Invalid blob in credential', 'ValidationError');
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw missing('blob', 'credential');
  const access = (parsed as Record<string, unknown>).access;
  if (access === undefined || access === null) throw missing('access', 'credential');
  return { access: String(access), parsed: parsed as Record<string, unknown> };
}

export const ec2Id = (access: string) => createHash('sha256').update(access, 'utf8').digest('hex');

export class Credentials {
  constructor(private readonly core: IdentityCore) {}

  get(id: string): CredentialRow {
    const c = this.core.repo.get<CredentialRow>('credentials', id);
    if (!c) throw credentialNotFound(id);
    return c;
  }

  list(f: { user_id?: string; type?: string }): CredentialRow[] {
    return this.core.repo.list<CredentialRow>('credentials', f);
  }

  create(o: CredentialCreate): CredentialRow {
    if (!this.core.repo.get('users', o.user_id)) throw new NotFound(`Could not find user: ${o.user_id}.`);
    if (o.project_id !== undefined && !this.core.repo.get('projects', o.project_id))
      throw new NotFound(`Could not find project: ${o.project_id}.`);
    let id = newHexId();
    if (o.type.toLowerCase() === EC2) {
      if (!o.project_id) throw missing('project_id', 'credential');
      id = ec2Id(ec2Access(o.blob).access);
    }
    const row: CredentialRow = {
      id,
      user_id: o.user_id,
      project_id: o.project_id ?? null,
      type: o.type,
      blob: o.blob,
      extra: JSON.stringify(extras(o, CRED_FIELDS)),
      created_at: nowIso(),
    };
    if (this.core.repo.get('credentials', id))
      throw new Conflict(`Conflict occurred attempting to store credential - Duplicate ID, ${id}.`);
    this.core.repo.insert('credentials', { ...row });
    return row;
  }

  /** PATCH: the id never changes; an ec2 blob may not change its trust or application credential. */
  update(id: string, o: CredentialUpdate): CredentialRow {
    const cur = this.get(id);
    if ((o as { id?: unknown }).id !== undefined && (o as { id?: unknown }).id !== id)
      throw new BadRequest('Cannot change ID', 'ValidationError');
    const type = o.type ?? cur.type;
    if (type.toLowerCase() === EC2) {
      const next = ec2Access(o.blob ?? cur.blob).parsed;
      const prev = parseJson<Record<string, unknown>>(cur.type.toLowerCase() === EC2 ? cur.blob : '{}', {});
      for (const k of ['trust_id', 'app_cred_id', 'access_token_id', 'access_id']) {
        if ((prev[k] ?? null) !== (next[k] ?? null)) throw new Forbidden(`${k} can not be updated for credential`, 'Forbidden');
      }
      if (!(o.project_id ?? cur.project_id)) throw missing('project_id', 'credential');
    }
    if (o.user_id !== undefined && !this.core.repo.get('users', o.user_id))
      throw new NotFound(`Could not find user: ${o.user_id}.`);
    if (o.project_id !== undefined && !this.core.repo.get('projects', o.project_id))
      throw new NotFound(`Could not find project: ${o.project_id}.`);
    const patch: Partial<CredentialRow> = {};
    for (const k of ['user_id', 'project_id', 'type', 'blob'] as const) if (o[k] !== undefined) patch[k] = o[k];
    const extra = extras(o, CRED_FIELDS);
    if (Object.keys(extra).length) patch.extra = JSON.stringify({ ...parseJson(cur.extra, {}), ...extra });
    this.core.repo.update('credentials', id, patch);
    return this.get(id);
  }

  delete(id: string): void {
    this.get(id);
    this.core.repo.delete('credentials', id);
  }

  // OS-EC2: /v3/users/{id}/credentials/OS-EC2

  createEc2(userId: string, projectId: string): CredentialRow {
    if (!this.core.repo.get('projects', projectId)) throw new NotFound(`Could not find project: ${projectId}.`);
    const blob = { access: randomUUID().replaceAll('-', ''), secret: randomUUID().replaceAll('-', ''), trust_id: null };
    return this.create({ user_id: userId, project_id: projectId, type: EC2, blob: JSON.stringify(blob) });
  }

  /** The ec2 credential of the user with this access key (404 for anyone else's, as Keystone). */
  ec2(userId: string, access: string): CredentialRow {
    const c = this.core.repo.get<CredentialRow>('credentials', ec2Id(access));
    if (!c || c.type !== EC2 || c.user_id !== userId) throw credentialNotFound(ec2Id(access));
    return c;
  }

  // Policies: /v3/policies

  policy(id: string): PolicyRow {
    const p = this.core.repo.get<PolicyRow>('policies', id);
    if (!p) throw new NotFound(`Could not find policy: ${id}.`);
    return p;
  }

  createPolicy(o: PolicyCreate): PolicyRow {
    const row: PolicyRow = {
      id: newHexId(),
      type: o.type,
      blob: o.blob,
      extra: JSON.stringify(extras(o, POLICY_FIELDS)),
      created_at: nowIso(),
    };
    this.core.repo.insert('policies', { ...row });
    return row;
  }

  updatePolicy(id: string, o: PolicyUpdate): PolicyRow {
    const cur = this.policy(id);
    if ((o as { id?: unknown }).id !== undefined && (o as { id?: unknown }).id !== id)
      throw new BadRequest('Cannot change ID', 'ValidationError');
    const patch: Partial<PolicyRow> = {};
    if (o.type !== undefined) patch.type = o.type;
    if (o.blob !== undefined) patch.blob = o.blob;
    const extra = extras(o, POLICY_FIELDS);
    if (Object.keys(extra).length) patch.extra = JSON.stringify({ ...parseJson(cur.extra, {}), ...extra });
    this.core.repo.update('policies', id, patch);
    return this.policy(id);
  }

  deletePolicy(id: string): void {
    this.policy(id);
    this.core.repo.delete('policies', id);
  }
}
