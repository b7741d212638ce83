import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrl } from '../http/base-url.js';

/** What this cloud serves beyond the core Image API, which decides the versions it advertises. */
export interface ImageFeatures {
  /** At least one import method is offered (the interoperable import and what builds on it). */
  importing: boolean;
}

/**
 * The Image API versions and what each adds (Glance's api-ref, release notes and
 * glance/api/versions.py), with the condition under which this cloud serves it. A
 * version is listed only when its API is served. As in Glance, which import methods
 * and stores a cloud has is told by GET /v2/info/import and /v2/info/stores, not by the
 * version: 2.9 (copy-image) is served where copy-image may be offered, which it is once
 * more than one store is configured. Not served, so never listed: 2.13 (quota usage),
 * 2.14 – 2.16 and 2.18 (cache API), 2.15 (store details), 2.17 (new location API).
 */
const VERSIONS: ReadonlyArray<readonly [string, (f: ImageFeatures) => boolean]> = [
  ['2.12', (f) => f.importing], // GET /v2/images/{id}/tasks
  ['2.11', (f) => f.importing], // the import lock (os_glance_import_task), copy-image of others' images by policy
  ['2.10', (f) => f.importing], // DELETE /v2/stores/{store_id}/{image_id}
  ['2.9', (f) => f.importing], // copy-image, all_stores, all_stores_must_succeed
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
