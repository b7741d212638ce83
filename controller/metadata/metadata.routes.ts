import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { lookupMetadata } from '../../shared/metadata/instance-metadata.js';
import {
  FORWARDED_FOR_HEADER,
  INSTANCE_ID_HEADER,
  SIGNATURE_HEADER,
  signatureValid,
  TENANT_ID_HEADER,
} from '../../shared/metadata/signature.js';
import { agentLayerOf } from '../agents/index.js';
import { ServersRepo } from '../compute/servers.repo.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { setPasswordOnce } from './passwords.repo.js';
import { metadataSourceOf } from './source.js';

/**
 * Nova's metadata API as its proxies call it (nova/api/metadata/handler.py with
 * service_metadata_proxy): mounted at /internal/v1/metadata, the guest's path after it.
 * Called only by the network agents' metadata proxies (agents/network/metadata-proxy.ts):
 * - `Authorization: Bearer <host credential>`: an enrolled host (401 otherwise);
 * - `X-Instance-ID`, `X-Tenant-ID` (400 when missing) and `X-Instance-ID-Signature`,
 *   HMAC-SHA256 of the instance id under that credential (403 when it does not match);
 * - the instance must exist, belong to X-Tenant-ID, and have a port on a network whose
 *   metadata proxy that host runs: the network's DHCP server or a router with an
 *   interface on it (404 otherwise, as Nova answers for an unknown instance or a
 *   project mismatch).
 * Replies are Nova's: the document with its content type, plain-text errors.
 */
export const METADATA_PREFIX = '/internal/v1/metadata';
const MAX_PASSWORD = 256;

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return typeof v === 'string' ? v : undefined;
};

function fail(reply: FastifyReply, code: number, title: string, explanation: string) {
  return reply.code(code).type('text/plain; charset=UTF-8').send(`${code} ${title}\n\n${explanation}\n\n`);
}

export function metadataPlugin(deps: ServiceDeps): FastifyPluginAsync {
  return async (app) => {
    const servers = new ServersRepo(deps.db);
    // The guest's body (a password) as text, whatever it calls itself (JSON included).
    app.removeAllContentTypeParsers();
    app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: 4096 }, (_req, body, done) => done(null, body));
    const handler = async (req: FastifyRequest, reply: FastifyReply) => {
      const auth = /^Bearer\s+(\S+)\s*$/i.exec(header(req, 'authorization') ?? '')?.[1];
      let host;
      try {
        host = agentLayerOf(deps).hosts.authenticate(auth);
      } catch {
        return fail(reply, 401, 'Unauthorized', 'A host credential is required.');
      }
      const instanceId = header(req, INSTANCE_ID_HEADER);
      const tenantId = header(req, TENANT_ID_HEADER);
      const signature = header(req, SIGNATURE_HEADER);
      if (!instanceId) return fail(reply, 400, 'Bad Request', 'X-Instance-ID header is missing from request.');
      if (!signature) return fail(reply, 400, 'Bad Request', 'X-Instance-ID-Signature header is missing from request.');
      if (!tenantId) return fail(reply, 400, 'Bad Request', 'X-Tenant-ID header is missing from request.');
      if (!signatureValid(auth!, instanceId, signature)) {
        req.log.warn(
          { host: host.name, instanceId, from: header(req, FORWARDED_FOR_HEADER) },
          'X-Instance-ID-Signature does not match',
        );
        return fail(reply, 403, 'Forbidden', 'Invalid proxy request signature.');
      }
      const inst = servers.get(instanceId);
      const net = deps.facades.networks;
      const ports = inst ? (net?.portsOfDevice(inst.id) ?? []) : [];
      const served = ports.some((p) => net?.servesMetadata(host.name, p.network_id));
      if (!inst || inst.project_id !== tenantId || !served) {
        req.log.warn(
          { host: host.name, instanceId, tenantId, found: !!inst, served, from: header(req, FORWARDED_FOR_HEADER) },
          'no metadata for this instance from this proxy',
        );
        return fail(reply, 404, 'Not Found', 'The resource could not be found.');
      }
      const path = (req.params as { '*'?: string })['*'] ?? '';
      const src = metadataSourceOf({ db: deps.db, net, defaultAz: deps.config.compute.default_availability_zone }, inst);
      const found = lookupMetadata(src, path);
      if (!found) return fail(reply, 404, 'Not Found', 'The resource could not be found.');
      if (found.kind === 'data') {
        if (req.method !== 'GET' && req.method !== 'HEAD')
          return fail(reply, 405, 'Method Not Allowed', 'The method is not allowed.');
        return reply.code(200).type(found.contentType).send(found.body);
      }
      // password (Nova's password.handle_password): GET reads; POST sets it once.
      if (req.method === 'GET' || req.method === 'HEAD') return reply.code(200).type('text/plain').send(src.password);
      if (src.password) return fail(reply, 409, 'Conflict', 'There was a conflict when trying to complete your request.');
      const body = typeof req.body === 'string' ? req.body : '';
      if (Buffer.byteLength(body) > MAX_PASSWORD) return fail(reply, 400, 'Bad Request', 'Request is too large.');
      if (!setPasswordOnce(deps.db, inst.id, body, new Date().toISOString()))
        return fail(reply, 409, 'Conflict', 'There was a conflict when trying to complete your request.');
      return reply.code(200).type('text/plain').send('');
    };
    app.route({ method: ['GET', 'POST'], url: '/', handler });
    app.route({ method: ['GET', 'POST'], url: '/*', handler });
  };
}
