import type { FastifyInstance } from 'fastify';
import { errorMessage } from './cloud-api.js';
import { ApiError } from './page.js';
import type { Session } from './sessions.js';

type Scoped = Omit<Session, 'csrf'>;

async function issue(app: FastifyInstance, auth: unknown): Promise<{ token: string; body: any }> {
  const r = await app.inject({
    method: 'POST',
    url: '/identity/v3/auth/tokens',
    payload: { auth },
    headers: { 'content-type': 'application/json' },
  });
  if (r.statusCode !== 201)
    throw new ApiError(r.statusCode, errorMessage(safeJson(r.body)) ?? 'The request you have made requires authentication.');
  return { token: String(r.headers['x-subject-token']), body: r.json() };
}

const safeJson = (s: string): unknown => {
  try {
    return JSON.parse(s);
  } catch {
    return s;
  }
};

export async function revoke(app: FastifyInstance, token: string): Promise<void> {
  await app.inject({
    method: 'DELETE',
    url: '/identity/v3/auth/tokens',
    headers: { 'x-auth-token': token, 'x-subject-token': token },
  });
}

async function projectsOf(app: FastifyInstance, token: string): Promise<Array<{ id: string; name: string }>> {
  const r = await app.inject({ method: 'GET', url: '/identity/v3/auth/projects', headers: { 'x-auth-token': token } });
  if (r.statusCode !== 200) return [];
  return (r.json().projects as Array<{ id: string; name: string }>)
    .map((p) => ({ id: p.id, name: p.name }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** A project-scoped session from a token of the same user (the token method, as Horizon does). */
export async function scopeTo(
  app: FastifyInstance,
  rootToken: string,
  projectId: string,
  projects: Array<{ id: string; name: string }>,
): Promise<Scoped> {
  const { token, body } = await issue(app, {
    identity: { methods: ['token'], token: { id: rootToken } },
    scope: { project: { id: projectId } },
  });
  const t = body.token;
  const roles: string[] = (t.roles ?? []).map((r: { name: string }) => r.name);
  return {
    token,
    rootToken,
    expiresAt: Date.parse(t.expires_at),
    userId: t.user.id,
    userName: t.user.name,
    domainName: t.user.domain?.name ?? '',
    projectId: t.project.id,
    projectName: t.project.name,
    projects,
    roles,
    isAdmin: roles.includes('admin'),
  };
}

/**
 * Password sign-in: an unscoped token proves the password and lists the user's
 * projects; the session gets a token scoped to the preferred (or first) project,
 * derived from the unscoped one, which the session keeps (server-side) for project
 * switches and revokes at sign-out. A failed sign-in revokes it at once.
 */
export async function passwordLogin(
  app: FastifyInstance,
  f: { domain: string; user: string; password: string; preferProject?: string },
): Promise<Scoped> {
  const unscoped = await issue(app, {
    identity: {
      methods: ['password'],
      password: { user: { name: f.user, domain: { name: f.domain || 'Default' }, password: f.password } },
    },
    scope: 'unscoped',
  });
  try {
    const projects = await projectsOf(app, unscoped.token);
    const pick = projects.find((p) => p.id === f.preferProject) ?? projects[0];
    if (!pick) throw new ApiError(401, 'You are not a member of any project.');
    return await scopeTo(app, unscoped.token, pick.id, projects);
  } catch (err) {
    await revoke(app, unscoped.token);
    throw err;
  }
}
