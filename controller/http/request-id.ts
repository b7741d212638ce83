import type { FastifyInstance } from 'fastify';

/**
 * Every response carries x-openstack-request-id (the id fastify generated for the
 * request, req-<uuid>, which is also in every log line of the request).
 */
export function installRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', async (req, reply) => {
    reply.header('x-openstack-request-id', req.id);
  });
}
