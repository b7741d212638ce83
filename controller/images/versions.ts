import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrl } from '../http/base-url.js';

/** What this cloud serves beyond the core Image API, which decides the versions it advertises. */
export interface ImageFeatures {
  /** At least one import method is offered (v2.6 interoperable import, v2.8 stores in import). */
  importing: boolean;
  /** copy-image is offered, i.e. more than one store exists (v2.9 – v2.12). */
  copying: boolean;
}

/**
 * The Image API versions and what each adds (Glance's api-ref and release notes), with
 * the condition under which this cloud serves it. Glance lists versions by what its
 * configuration enables (glance/api/versions.py: 2.8 – 2.13 only with enabled_backends,
 * 2.14 – 2.16 only with the cache); here a version is listed only when its features are
 * served, and the versions are cumulative, so a version is listed only when every one
 * below it that needs the same condition is. Not served, so never listed: 2.13 (quota
 * usage), 2.14 – 2.16 and 2.18 (cache API), 2.15 (store details), 2.17 (location API).
 */
const VERSIONS: ReadonlyArray<readonly [string, (f: ImageFeatures) => boolean]> = [
  ['2.12', (f) => f.copying], // GET /v2/images/{id}/tasks
  ['2.11', (f) => f.copying], // import lock (os_glance_import_task), copy-image of others' images by policy
  ['2.10', (f) => f.copying], // DELETE /v2/stores/{store_id}/{image_id}
  ['2.9', (f) => f.copying], // copy-image, all_stores, all_stores_must_succeed
  ['2.8', (f) => f.importing], // GET /v2/info/stores, X-Image-Meta-Store, stores of an import
  ['2.7', () => true], // os_hidden, os_hash_algo / os_hash_value
  ['2.6', (f) => f.importing], // stage, import, GET /v2/info/import
  ['2.5', () => true],
  ['2.4', () => true],
  ['2.3', () => true],
  ['2.2', () => true],
  ['2.1', () => true],
  ['2.0', () => true],
];

/** The version document's entries for `f`: the highest served version is CURRENT. */
export function servedVersions(f: ImageFeatures): Array<{ id: string; status: string }> {
  const ids = VERSIONS.filter(([, on]) => on(f)).map(([v]) => `v${v}`);
  return ids.map((id, i) => ({ id, status: i === 0 ? 'CURRENT' : 'SUPPORTED' }));
}

function versions(req: FastifyRequest, f: ImageFeatures, publicUrl?: string) {
  const href = `${baseUrl(req, publicUrl)}/image/v2/`;
  return servedVersions(f).map((v) => ({ ...v, links: [{ rel: 'self', href }] }));
}

/** Glance answers GET / with 300 and the version list; /versions with 200. */
export function registerImageVersions(app: FastifyInstance, features: () => ImageFeatures, publicUrl?: string): void {
  app.get('/', async (req, reply) => reply.status(300).send({ versions: versions(req, features(), publicUrl) }));
  app.get('/versions', async (req) => ({ versions: versions(req, features(), publicUrl) }));
}
