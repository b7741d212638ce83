import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import type { FastifyInstance, FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { ServiceDeps } from '../http/service-deps.js';
import { cloudApi } from './cloud-api.js';
import { errorShell, loginPage, shell } from './layout.js';
import { passwordLogin, revoke, scopeTo } from './login.js';
import { ApiError, type Page, type PageContext } from './page.js';
import { PAGES } from './pages/index.js';
import { csrfMatches, SessionStore, type Session } from './sessions.js';
import { registerDashboardApi } from './api-routes.js';

export const BASE = '/dashboard';
const COOKIE = 'hs_session';
const LOGIN_COOKIE = 'hs_login';

/** Sent with every dashboard response (no inline script or style anywhere). */
export const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-src 'self'; frame-ancestors 'self'; form-action 'self'; base-uri 'none'; object-src 'none'",
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'SAMEORIGIN',
  'cache-control': 'no-store',
};

const STATIC_TYPES: Record<string, string> = { '.css': 'text/css; charset=utf-8', '.js': 'text/javascript; charset=utf-8' };

function loadStatic(): Map<string, { type: string; body: Buffer }> {
  const files = new Map<string, { type: string; body: Buffer }>();
  for (const name of ['dashboard.css', 'dashboard.js']) {
    files.set(name, { type: STATIC_TYPES[extname(name)]!, body: readFileSync(new URL(`./static/${name}`, import.meta.url)) });
  }
  return files;
}

export interface DashboardOptions {
  pages?: readonly Page[];
  sessions?: SessionStore;
}

/**
 * Horizon's job, server-rendered: sessions, CSRF, security headers, the layout and the
 * routing of pages (pages/index.ts). Pages see the cloud only through the signed-in
 * user's CloudApi. Encapsulated: cookie and form parsing do not reach the OpenStack APIs.
 */
export function dashboardPlugin(deps: ServiceDeps, opts: DashboardOptions = {}): FastifyPluginAsync {
  return async (app: FastifyInstance) => {
    const pages = opts.pages ?? PAGES;
    const store = opts.sessions ?? new SessionStore();
    const statics = loadStatic();
    await app.register(cookie);
    await app.register(formbody, { bodyLimit: 1 << 20 });

    app.addHook('onSend', async (req, reply, payload) => {
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) if (!reply.hasHeader(k)) reply.header(k, v);
      // Over TLS (tls.enabled), browsers keep to HTTPS for a year (no includeSubDomains: a home LAN's names are not ours).
      if (req.protocol === 'https') reply.header('strict-transport-security', 'max-age=31536000');
      return payload;
    });
    app.setNotFoundHandler((_req, reply) =>
      reply
        .status(404)
        .type('text/html; charset=utf-8')
        .send(errorShell('Not found', 'There is no such page.', BASE)),
    );
    app.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const status = err instanceof ApiError ? err.status : err.statusCode && err.statusCode < 500 ? err.statusCode : 500;
      if (status >= 500) req.log.error({ err }, 'dashboard error');
      const message = status >= 500 ? 'Something went wrong on the server; the log has the details.' : err.message;
      if (req.url.startsWith(`${BASE}/api/`)) return reply.status(status).send({ message });
      return reply
        .status(status)
        .type('text/html; charset=utf-8')
        .send(errorShell(status === 404 ? 'Not found' : 'Error', message, BASE));
    });

    const secure = (req: FastifyRequest) => req.protocol === 'https';
    const sidOf = (req: FastifyRequest) => req.cookies[COOKIE];
    const sessionOf = (req: FastifyRequest): Session | null => store.get(sidOf(req));
    const toLogin = (reply: FastifyReply) => reply.redirect(`${BASE}/login`, 303);
    const ctxOf = (req: FastifyRequest, s: Session): PageContext => ({
      api: cloudApi(app, s.token),
      session: s,
      csrf: s.csrf,
      params: (req.params ?? {}) as Record<string, string>,
      query: (req.query ?? {}) as Record<string, string>,
      base: BASE,
    });
    /** Only paths inside the dashboard: no open redirects. */
    const safeNext = (n: unknown, fallback: string) =>
      typeof n === 'string' && n.startsWith(`${BASE}/`) && !n.startsWith(`${BASE}//`) && !n.includes('\\') ? n : fallback;

    app.get('/static/:file', async (req, reply) => {
      const f = statics.get((req.params as { file: string }).file);
      if (!f) return reply.callNotFound();
      return reply.header('cache-control', 'public, max-age=3600').type(f.type).send(f.body);
    });

    app.get('/login', async (req, reply) => {
      if (sessionOf(req)) return reply.redirect(`${BASE}/`, 303);
      const loginCsrf = randomBytes(24).toString('base64url');
      reply.setCookie(LOGIN_COOKIE, loginCsrf, { path: BASE, httpOnly: true, sameSite: 'strict', secure: secure(req) });
      return reply.type('text/html; charset=utf-8').send(loginPage({ base: BASE, loginCsrf }));
    });

    app.post('/login', async (req, reply) => {
      const f = (req.body ?? {}) as Record<string, string>;
      const expected = req.cookies[LOGIN_COOKIE];
      if (!expected || f._csrf !== expected) {
        return reply
          .status(403)
          .type('text/html; charset=utf-8')
          .send(errorShell('Forbidden', 'The sign-in form expired; load it again.', BASE));
      }
      try {
        const s = await passwordLogin(app, {
          domain: String(f.domain ?? ''),
          user: String(f.username ?? ''),
          password: String(f.password ?? ''),
        });
        const { sid } = store.create(s);
        reply.clearCookie(LOGIN_COOKIE, { path: BASE });
        reply.setCookie(COOKIE, sid, {
          path: BASE,
          httpOnly: true,
          sameSite: 'strict',
          secure: secure(req),
          expires: new Date(s.expiresAt),
        });
        return reply.redirect(`${BASE}/`, 303);
      } catch (err) {
        if (!(err instanceof ApiError) || err.status >= 500) throw err;
        const loginCsrf = randomBytes(24).toString('base64url');
        reply.setCookie(LOGIN_COOKIE, loginCsrf, { path: BASE, httpOnly: true, sameSite: 'strict', secure: secure(req) });
        return reply
          .status(401)
          .type('text/html; charset=utf-8')
          .send(
            loginPage({
              base: BASE,
              loginCsrf,
              error: 'Invalid credentials.',
              user: String(f.username ?? ''),
              domain: String(f.domain ?? ''),
            }),
          );
      }
    });

    /** Every other POST needs a session and its CSRF token (form field or header). */
    const guard = async (req: FastifyRequest, reply: FastifyReply): Promise<Session | null> => {
      const s = sessionOf(req);
      if (!s) {
        if (req.url.startsWith(`${BASE}/api/`)) await reply.status(401).send({ message: 'Sign in again.' });
        else await toLogin(reply);
        return null;
      }
      if (req.method !== 'GET') {
        const posted = (req.body as Record<string, unknown> | undefined)?._csrf ?? req.headers['x-csrf-token'];
        if (!csrfMatches(s, posted)) {
          await reply
            .status(403)
            .type('text/html; charset=utf-8')
            .send(errorShell('Forbidden', 'Missing or wrong CSRF token: reload the page and try again.', BASE));
          return null;
        }
      }
      return s;
    };

    app.post('/logout', async (req, reply) => {
      const s = await guard(req, reply);
      if (!s) return reply;
      store.delete(sidOf(req));
      await revoke(app, s.rootToken);
      reply.clearCookie(COOKIE, { path: BASE });
      return toLogin(reply);
    });

    app.post('/switch-project', async (req, reply) => {
      const s = await guard(req, reply);
      if (!s) return reply;
      const f = req.body as Record<string, string>;
      const next = safeNext(f.next, `${BASE}/`);
      try {
        const scoped = await scopeTo(app, s.rootToken, String(f.project_id ?? ''), s.projects);
        store.replace(sidOf(req)!, scoped);
      } catch (err) {
        if (!(err instanceof ApiError)) throw err;
        s.flash = { kind: 'error', text: `Could not switch project: ${err.message}` };
      }
      return reply.redirect(next, 303);
    });

    app.get('/', async (req, reply) =>
      sessionOf(req) ? reply.redirect(`${BASE}${pages[0]?.path ?? '/login'}`, 303) : toLogin(reply),
    );

    registerDashboardApi(app, { deps, guard, ctxOf });

    for (const page of pages) {
      app.get(page.path, async (req, reply) => {
        const s = await guard(req, reply);
        if (!s) return reply;
        if (page.adminOnly && !s.isAdmin) throw new ApiError(403, 'Only administrators may see this page.');
        const ctx = ctxOf(req, s);
        try {
          const content = await page.render(ctx);
          return reply
            .type('text/html; charset=utf-8')
            .send(shell({ base: BASE, pages, current: page, session: s, title: page.title, content, path: req.url }));
        } catch (err) {
          if (err instanceof ApiError && err.status === 401) {
            store.delete(sidOf(req));
            return toLogin(reply);
          }
          throw err;
        }
      });
      if (!page.actions) continue;
      app.post(page.path, async (req, reply) => {
        const s = await guard(req, reply);
        if (!s) return reply;
        const form = Object.fromEntries(
          Object.entries((req.body ?? {}) as Record<string, unknown>).map(([k, v]) => [
            k,
            Array.isArray(v) ? v.join(',') : String(v ?? ''),
          ]),
        );
        const action = page.actions![form._action ?? ''];
        const here = req.url.split('?')[0]!;
        if (!action) {
          s.flash = { kind: 'error', text: `Unknown action "${form._action ?? ''}".` };
          return reply.redirect(here, 303);
        }
        try {
          const r = await action(ctxOf(req, s), form);
          if (r.message) s.flash = { kind: 'ok', text: r.message };
          return reply.redirect(safeNext(r.redirect, here), 303);
        } catch (err) {
          if (!(err instanceof ApiError)) throw err;
          if (err.status === 401) {
            store.delete(sidOf(req));
            return toLogin(reply);
          }
          s.flash = { kind: 'error', text: err.message };
          return reply.redirect(here, 303);
        }
      });
    }
  };
}
