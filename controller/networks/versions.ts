import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrl } from '../http/base-url.js';

function entry(req: FastifyRequest, publicUrl?: string) {
  return { id: 'v2.0', status: 'CURRENT', links: [{ rel: 'self', href: `${baseUrl(req, publicUrl)}/network/v2.0/` }] };
}

/** Neutron: GET / lists v2.0; GET /v2.0/ lists the collections. */
export function registerNetworkVersions(app: FastifyInstance, collections: string[], publicUrl?: string): void {
  app.get('/', async (req) => ({ versions: [entry(req, publicUrl)] }));
  for (const p of ['/v2.0']) {
    app.get(p, async (req) => ({
      resources: collections.map((c) => ({
        name: c.replace(/s$/, ''),
        collection: c,
        links: [{ rel: 'self', href: `${baseUrl(req, publicUrl)}/network/v2.0/${c}` }],
      })),
    }));
  }
}
