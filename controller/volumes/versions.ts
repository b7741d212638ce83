import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrl } from '../http/base-url.js';

/**
 * Advertise only what is implemented (api notes 1.7, 1.8), step by step as Cinder's
 * rest_api_version_history.rst has them:
 * - 3.1: os-volume_upload_image takes and answers `visibility` and `protected`.
 * - 3.2: the bootable list filter is read strictly (true/false/1/0/…; anything else 400).
 * The next step, 3.3 (the user messages API, /messages), is not served: the maximum stops here.
 */
export const VOLUME_MAX_MICROVERSION = '3.2';
export const VOLUME_MIN_MICROVERSION = '3.0';

const asked = new WeakMap<FastifyRequest, number>();

/** Records the minor version a request asked for (the plugin's header check; `latest` is the maximum). */
export function setVolumeMinor(req: FastifyRequest, minor: number): void {
  asked.set(req, minor);
}

/** The minor version of 3.x this request is served at (0 without an OpenStack-API-Version header). */
export function volumeMinorOf(req: FastifyRequest): number {
  return asked.get(req) ?? 0;
}

function entry(req: FastifyRequest, publicUrl?: string) {
  return {
    id: 'v3.0',
    status: 'CURRENT',
    version: VOLUME_MAX_MICROVERSION,
    min_version: VOLUME_MIN_MICROVERSION,
    updated: '2023-07-17T00:00:00Z',
    links: [{ rel: 'self', href: `${baseUrl(req, publicUrl)}/volume/v3/` }],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.volume+json;version=3' }],
  };
}

export function registerVolumeVersions(app: FastifyInstance, publicUrl?: string): void {
  app.get('/', async (req, reply) => reply.status(300).send({ versions: [entry(req, publicUrl)] }));
  // GET /v3/ is Cinder's VersionsController.index at 3.0 (cinder/api/versions.py): a `versions`
  // list holding v3.0 only, status 200 (Tempest's volume_api_version_details).
  app.get('/v3', async (req) => ({ versions: [entry(req, publicUrl)] }));
  // keystoneauth may try the catalog URL itself (…/v3/{project_id}) before stripping the project;
  // not a Cinder route, answered with the single-version document keystoneauth also reads.
  app.get('/v3/:project_id', async (req) => ({ version: entry(req, publicUrl) }));
}
