import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import type { FastifyInstance, FastifyRequest } from 'fastify';

const sha = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** Reads the host secret (one line). Refuses a file others can read. */
export function readSecret(file: string): string {
  let st;
  try {
    st = statSync(file);
  } catch (e) {
    throw new Error(
      `credential_file '${file}': ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist (the all-in-one or `homestack host enrol` creates it)' : (e as Error).message}`,
    );
  }
  if ((st.mode & 0o077) !== 0) throw new Error(`credential_file '${file}': must not be readable by group or others (chmod 600)`);
  const s = readFileSync(file, 'utf8').trim();
  if (s.length < 16) throw new Error(`credential_file '${file}': the secret is shorter than 16 characters`);
  return s;
}

/** True when the Authorization header carries `Bearer <secret>` (constant time). */
export function bearerMatches(header: string | undefined, secret: string): boolean {
  const m = typeof header === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  if (!m) return false;
  return timingSafeEqual(sha(m[1]!), sha(secret));
}

/**
 * Every agent route requires `Authorization: Bearer <per-host secret>`; anything else
 * is a 401 with the agent error document, unless one of `alternatives` (checked in
 * order, each for its own routes) admits the request.
 */
export function installAgentAuth(
  app: FastifyInstance,
  secret: string,
  alternatives: ReadonlyArray<(req: FastifyRequest) => boolean> = [],
): void {
  app.addHook('onRequest', async (req, reply) => {
    if (bearerMatches(req.headers.authorization, secret)) return;
    // Routes with a credential of their own (a file offered to another host under a one-time token).
    if (alternatives.some((ok) => ok(req))) return;
    req.log.warn({ ip: req.ip, url: req.url }, 'refused a call without the host credential');
    return reply
      .status(401)
      .type('application/json')
      .send({
        error: {
          code: 'Unauthorized',
          message: 'This agent requires the host credential (Authorization: Bearer ...).',
          retryable: false,
        },
      });
  });
}
