import Fastify, { type FastifyInstance } from 'fastify';
import { Value } from 'typebox/value';
import { ControllerConfigSchema, type ControllerConfig } from '../../../shared/config/controller.js';
import { Forbidden, Unauthorized } from '../../../shared/errors/index.js';
import { migrate } from '../../db/migrate.js';
import { openDb, type Db } from '../../db/open.js';
import type { AuthContext, AuthService } from '../../http/auth.js';
import { installJsonParser } from '../../http/json-body.js';
import { installRequestId } from '../../http/request-id.js';
import type { ServiceDeps } from '../../http/service-deps.js';
import { createImageFacade, type LocalImageFacade } from '../facade.js';
import { imagePlugin } from '../plugin.js';

/** Test callers: token → project and roles. */
export const TEST_USERS: Record<string, { project: string; admin: boolean }> = {
  admin: { project: 'p-admin', admin: true },
  alice: { project: 'p-alice', admin: false },
  bob: { project: 'p-bob', admin: false },
};

/** A stand-in for identity in unit tests: fixed tokens, Glance's default rules that matter here. */
export function fakeAuth(): AuthService {
  const ctxOf = (token: string): AuthContext => {
    const u = TEST_USERS[token];
    if (!u) throw new Unauthorized();
    const roles = u.admin ? ['admin', 'member', 'reader'] : ['member', 'reader'];
    return {
      token,
      userId: `u-${token}`,
      userName: token,
      userDomainId: 'default',
      userDomainName: 'Default',
      projectId: u.project,
      projectName: u.project,
      projectDomainId: 'default',
      roles,
      roleIds: roles,
      isAdmin: u.admin,
      methods: ['password'],
      auditIds: [],
      issuedAt: new Date(),
      expiresAt: new Date(Date.now() + 3_600_000),
    };
  };
  // Admin only: making an image public and writing metadata definitions (Glance's metadef_admin).
  const allowed = (action: string, ctx: AuthContext) =>
    (action !== 'image:publicize_image' && !/^image:(add|modify|delete|remove)_metadef_/.test(action)) || ctx.isAdmin;
  return {
    validator: { validate: ctxOf },
    policy: {
      allowed,
      enforce: (action, ctx) => {
        if (!allowed(action, ctx)) throw new Forbidden(`Policy doesn't allow ${action} to be performed.`);
      },
    },
  };
}

/** A fresh fastify with only the image plugin under /image, an in-memory db and data under dataDir. */
export async function imageTestApp(
  dataDir: string,
  images: Partial<ControllerConfig['images']> = {},
  extras: Record<string, unknown> = {},
  existing?: Db,
  imageImport: Partial<ControllerConfig['image_import']> = {},
): Promise<{ app: FastifyInstance; db: Db; facade: LocalImageFacade }> {
  const db = existing ?? openDb(':memory:');
  if (!existing) migrate(db);
  const base = Value.Default(ControllerConfigSchema, {}) as ControllerConfig;
  const config: ControllerConfig = {
    ...base,
    data_dir: dataDir,
    images: { ...base.images, ...images },
    image_import: { ...base.image_import, ...imageImport },
  };
  const app = Fastify({ logger: false, routerOptions: { ignoreTrailingSlash: true, maxParamLength: 1000 } });
  app.decorateRequest('auth', null);
  installJsonParser(app);
  installRequestId(app);
  const deps: ServiceDeps = { config, db, auth: fakeAuth(), log: app.log, facades: {}, extras };
  const facade = createImageFacade(deps);
  deps.facades.images = facade;
  await app.register(imagePlugin(deps), { prefix: '/image' });
  await app.ready();
  return { app, db, facade };
}
