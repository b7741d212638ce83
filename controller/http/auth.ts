import type { FastifyReply, FastifyRequest } from 'fastify';
import { Unauthorized } from '../../shared/errors/index.js';

/** Who is calling, from a validated token. Every service's policy checks read this. */
export interface AuthContext {
  token: string;
  userId: string;
  userName: string;
  userDomainId: string;
  userDomainName: string;
  /** Set for a project-scoped token. */
  projectId?: string;
  projectName?: string;
  projectDomainId?: string;
  /** Set for a domain-scoped token. */
  domainId?: string;
  domainName?: string;
  /** Role names, with implied roles expanded (admin ⇒ member ⇒ reader). */
  roles: string[];
  roleIds: string[];
  /** The token carries the admin role. */
  isAdmin: boolean;
  methods: string[];
  auditIds: string[];
  issuedAt: Date;
  expiresAt: Date;
  applicationCredentialId?: string;
}

/** Validates a token in-process (no network hop, as keystonemiddleware would do). */
export interface TokenValidator {
  /** Throws Unauthorized when the token is missing, malformed, expired or revoked. */
  validate(token: string): AuthContext;
}

/** The attributes of the thing being acted on, for rules such as "owner". */
export type PolicyTarget = Record<string, unknown> & {
  project_id?: string | null;
  user_id?: string | null;
  domain_id?: string | null;
};

/** The job of oslo.policy: one rule per API action, defaults in code, overridable. */
export interface Policy {
  /** Throws Forbidden (403) when the rule for `action` does not pass. */
  enforce(action: string, ctx: AuthContext, target?: PolicyTarget): void;
  allowed(action: string, ctx: AuthContext, target?: PolicyTarget): boolean;
}

export interface AuthService {
  validator: TokenValidator;
  policy: Policy;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on protected routes. */
    auth: AuthContext | null;
  }
}

/**
 * A preHandler that validates X-Auth-Token and sets request.auth; 401 otherwise. The
 * service's error handler renders the 401 (with WWW-Authenticate from the keystone
 * renderer's caller).
 */
export function authHook(validator: TokenValidator) {
  return async function requireToken(req: FastifyRequest, _reply: FastifyReply): Promise<void> {
    const raw = req.headers['x-auth-token'];
    const token = Array.isArray(raw) ? raw[0] : raw;
    if (!token) throw new Unauthorized('The request you have made requires authentication.');
    req.auth = validator.validate(token.trim());
  };
}

/** request.auth on a route that ran authHook (throws if a route forgot it). */
export function ctxOf(req: FastifyRequest): AuthContext {
  if (!req.auth) throw new Unauthorized();
  return req.auth;
}
