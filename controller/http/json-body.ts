import type { FastifyInstance } from 'fastify';
import { BadRequest } from '../../shared/errors/index.js';

/**
 * JSON bodies: an empty body is "no body" (clients send Content-Type with DELETE and
 * bodiless actions), malformed JSON is a 400 that names the problem.
 */
export function installJsonParser(app: FastifyInstance, bodyLimit = 1024 * 1024): void {
  app.removeContentTypeParser('application/json');
  for (const type of ['application/json', /^application\/[\w.+-]*\+json$/]) {
    app.addContentTypeParser(type, { parseAs: 'string', bodyLimit }, (_req, body, done) => {
      const text = String(body);
      if (!text.trim()) return done(null, undefined);
      try {
        done(null, JSON.parse(text));
      } catch (e) {
        done(new BadRequest(`Malformed request body: ${(e as Error).message}`), undefined);
      }
    });
  }
}

/**
 * An action body ({"os-xyz": {...}}): a JSON object or nothing. A string, number or
 * array is a 400 (the `in` operator on one would throw a TypeError: a 500).
 */
export function actionBody(body: unknown): Record<string, unknown> {
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) throw new BadRequest('Malformed request body: expected a JSON object.');
  return body as Record<string, unknown>;
}
