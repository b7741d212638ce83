import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Forbidden, NotFound } from '../../shared/errors/index.js';
import { ctxOf, type AuthContext, type PolicyTarget } from '../http/auth.js';
import { q, qBool } from './input.js';
import type { IdentityService } from './identity.service.js';
import { TokenInvalid } from './tokens.js';
import { domainView, listLinks, projectView } from './views.js';

/** What every identity route file gets: the service, link bases, and policy checks. */
export interface Kit {
  svc: IdentityService;
  /** The v3 base for links, e.g. http://host:8000/identity/v3 */
  base(req: FastifyRequest): string;
  /** Enforces the action's rule for the caller; returns the caller's context. */
  enforce(req: FastifyRequest, action: string, target?: PolicyTarget): AuthContext;
  /** Keystone's list document: {<key>: [...], links: {self, previous, next}}. */
  list(req: FastifyRequest, key: string, items: unknown[]): Record<string, unknown>;
}

export function makeKit(svc: IdentityService, root: string): Kit {
  const base = (req: FastifyRequest) => `${svc.root(req, root)}/v3`;
  return {
    svc,
    base,
    enforce(req, action, target) {
      const ctx = ctxOf(req);
      svc.policy.enforce(action, ctx, target);
      return ctx;
    },
    list(req, key, items) {
      const path = req.url.replace(/^.*?\/v3\//, '');
      return { [key]: items, links: listLinks(base(req), path.split('?')[0]!, path.split('?')[1]) };
    },
  };
}

const subjectOf = (req: FastifyRequest): string => {
  const raw = req.headers['x-subject-token'];
  const t = (Array.isArray(raw) ? raw[0] : raw)?.trim();
  if (!t) throw new NotFound('Could not find token: (no X-Subject-Token header).');
  return t;
};

/** /v3/auth/*: issue, validate, check and revoke tokens; what a token gives access to. */
export function authRoutes(
  app: FastifyInstance,
  kit: Kit,
  protect: { preHandler: (req: FastifyRequest, reply: FastifyReply) => Promise<void> },
): void {
  const { svc } = kit;

  app.post('/v3/auth/tokens', async (req, reply) => {
    const issued = await svc.authn.authenticate(req.body);
    reply.header('X-Subject-Token', issued.token);
    const catalog = qBool(req.query, 'nocatalog') !== true;
    return reply.status(201).send({ token: svc.authn.tokenBody(issued.payload, issued.resolved, { catalog }) });
  });

  /** The subject token, or 404 "Failed to validate token" as Keystone answers for any bad one. */
  const subject = (req: FastifyRequest) => {
    const token = subjectOf(req);
    try {
      return { token, ...svc.authn.check(token) };
    } catch (e) {
      if (e instanceof TokenInvalid) throw new NotFound('Failed to validate token');
      throw e;
    }
  };

  app.get('/v3/auth/tokens', protect, async (req, reply) => {
    const s = subject(req);
    kit.enforce(req, req.method === 'HEAD' ? 'identity:check_token' : 'identity:validate_token', { user_id: s.payload.userId });
    reply.header('X-Subject-Token', s.token);
    const catalog = qBool(req.query, 'nocatalog') !== true;
    return { token: svc.authn.tokenBody(s.payload, s.resolved, { catalog }) };
  });

  app.delete('/v3/auth/tokens', protect, async (req, reply) => {
    const s = subject(req);
    kit.enforce(req, 'identity:revoke_token', { user_id: s.payload.userId });
    svc.core.revoke('audit', s.payload.auditIds[0]!, s.payload.expiresAt);
    return reply.status(204).send();
  });

  app.get('/v3/auth/catalog', protect, async (req) => {
    const ctx = kit.enforce(req, 'identity:get_auth_catalog');
    if (!ctx.projectId && !ctx.domainId) throw new Forbidden('A project-scoped token is required to produce a service catalog.');
    return { catalog: svc.authn.catalog(ctx.projectId), links: listLinks(kit.base(req), 'auth/catalog') };
  });

  app.get('/v3/auth/projects', protect, async (req) => {
    const ctx = kit.enforce(req, 'identity:get_auth_projects');
    const projects = svc.res
      .projectsOfUser(ctx.userId)
      .filter((p) => p.enabled && (!q(req.query, 'name') || p.name === q(req.query, 'name')));
    return kit.list(
      req,
      'projects',
      projects.map((p) => projectView(kit.base(req), p)),
    );
  });

  app.get('/v3/auth/domains', protect, async (req) => {
    const ctx = kit.enforce(req, 'identity:get_auth_domains');
    const domains = svc.res.domainsOfUser(ctx.userId).filter((d) => d.enabled);
    return kit.list(
      req,
      'domains',
      domains.map((d) => domainView(kit.base(req), d)),
    );
  });

  app.get('/v3/auth/system', protect, async (req) => {
    kit.enforce(req, 'identity:get_auth_system');
    return { system: [], links: listLinks(kit.base(req), 'auth/system') };
  });
}
