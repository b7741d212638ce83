import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrl } from '../http/base-url.js';

/**
 * The highest compute microversion every change of which is implemented and tested
 * (api notes 1.8): raise it in deliberate steps.
 */
export const COMPUTE_MAX_MICROVERSION = '2.1';
export const COMPUTE_MIN_MICROVERSION = '2.1';

function entry(req: FastifyRequest, publicUrl?: string) {
  const base = `${baseUrl(req, publicUrl)}/compute`;
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: COMPUTE_MAX_MICROVERSION,
    min_version: COMPUTE_MIN_MICROVERSION,
    updated: '2013-07-23T11:33:21Z',
    links: [
      { rel: 'self', href: `${base}/v2.1/` },
      { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  };
}

export function registerComputeVersions(app: FastifyInstance, publicUrl?: string): void {
  app.get('/', async (req) => ({ versions: [entry(req, publicUrl)] }));
  for (const p of ['/v2.1']) app.get(p, async (req) => ({ version: entry(req, publicUrl) }));
}
