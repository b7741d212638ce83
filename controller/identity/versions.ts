import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrl } from '../http/base-url.js';

/** Keystone's v3 version entry; `root` is the URL prefix identity is served under. */
export function identityVersion(req: FastifyRequest, root: string, publicUrl?: string) {
  return {
    id: 'v3.14',
    status: 'stable',
    updated: '2020-04-07T00:00:00Z',
    links: [{ rel: 'self', href: `${baseUrl(req, publicUrl)}${root}/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.identity-v3+json' }],
  };
}

/** GET {root}/ → 300 with the version list; GET {root}/v3 → 200 with the v3 document. */
export function registerIdentityVersions(app: FastifyInstance, root: string, publicUrl?: string, withRootList = true): void {
  if (withRootList) {
    app.get('/', async (req, reply) => {
      const v = identityVersion(req, root, publicUrl);
      reply.header('Location', v.links[0]!.href);
      return reply.status(300).send({ versions: { values: [v] } });
    });
  }
  for (const p of ['/v3']) {
    app.get(p, async (req) => ({ version: identityVersion(req, root, publicUrl) }));
  }
}
