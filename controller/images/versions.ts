import type { FastifyInstance, FastifyRequest } from 'fastify';
import { baseUrl } from '../http/base-url.js';

const IDS: Array<[string, string]> = [
  ['v2.15', 'CURRENT'],
  ['v2.9', 'SUPPORTED'],
  ['v2.7', 'SUPPORTED'],
  ['v2.6', 'SUPPORTED'],
  ['v2.5', 'SUPPORTED'],
  ['v2.4', 'SUPPORTED'],
  ['v2.3', 'SUPPORTED'],
  ['v2.2', 'SUPPORTED'],
  ['v2.1', 'SUPPORTED'],
  ['v2.0', 'SUPPORTED'],
];

function versions(req: FastifyRequest, publicUrl?: string) {
  const href = `${baseUrl(req, publicUrl)}/image/v2/`;
  return IDS.map(([id, status]) => ({ id, status, links: [{ rel: 'self', href }] }));
}

/** Glance answers GET / with 300 and the version list; /versions with 200. */
export function registerImageVersions(app: FastifyInstance, publicUrl?: string): void {
  app.get('/', async (req, reply) => reply.status(300).send({ versions: versions(req, publicUrl) }));
  app.get('/versions', async (req) => ({ versions: versions(req, publicUrl) }));
}
