import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { UnsupportedMediaType, BadRequest, NotFound } from '../../shared/errors/index.js';
import { authHook, ctxOf, type TokenValidator } from '../http/auth.js';
import { baseUrl } from '../http/base-url.js';
import { uploadBody } from './body.js';
import { fromDraft4 } from './patch.js';
import { sendBlocks } from './send.js';
import type { ImageData } from './image-data.service.js';
import type { ListQuery } from './listing.js';
import { IMAGE_SCHEMA, IMAGES_SCHEMA, MEMBER_SCHEMA, MEMBERS_SCHEMA } from './schemas.js';
import { imageView, memberView, type ImageService } from './images.service.js';
import type { ImageImport } from './image-import.service.js';

export interface ImageRouteDeps {
  validator: TokenValidator;
  images: ImageService;
  data: ImageData;
  importer: ImageImport;
  publicUrl?: string;
}

const PATCH_TYPES = /^application\/openstack-images-v2\.[01]-json-patch\s*(;.*)?$/i;

const mediaType = (req: FastifyRequest) => (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();

type IdParams = { Params: { id: string } };
type MemberParams = { Params: { id: string; member: string } };
type TagParams = { Params: { id: string; tag: string } };

/** HTTP only (house style 3.1): Glance v2 routes over the service. */
export function registerImageRoutes(app: FastifyInstance, d: ImageRouteDeps): void {
  const auth = authHook(d.validator);
  const pre = { preHandler: auth };

  // Upload bodies are streamed by the handler, never buffered by a parser.
  app.addContentTypeParser('application/octet-stream', (_req, _payload, done) => done(null, undefined));
  app.addContentTypeParser(PATCH_TYPES, { parseAs: 'string', bodyLimit: 1024 * 1024 }, (_req, body, done) => {
    try {
      done(null, String(body).trim() ? JSON.parse(String(body)) : undefined);
    } catch (e) {
      done(new BadRequest(`Malformed JSON patch: ${(e as Error).message}`), undefined);
    }
  });

  for (const [name, doc] of [
    ['image', IMAGE_SCHEMA],
    ['images', IMAGES_SCHEMA],
    ['member', MEMBER_SCHEMA],
    ['members', MEMBERS_SCHEMA],
  ] as const) {
    app.get(`/v2/schemas/${name}`, async () => doc);
  }

  app.get<{ Querystring: ListQuery }>('/v2/images', pre, async (req) => {
    // The router ignores trailing slashes; Glance's does not: GET /v2/images/ is a show of
    // an empty id there, 404 (Tempest test_get_image_null_id).
    if ((req.raw.url ?? '').split('?')[0]!.endsWith('/')) throw new NotFound('The resource could not be found.');
    const r = d.images.list(ctxOf(req), req.query);
    return { images: r.images.map(imageView), first: r.first, schema: '/v2/schemas/images', ...(r.next ? { next: r.next } : {}) };
  });

  app.post('/v2/images', pre, async (req, reply) => {
    const i = d.images.create(ctxOf(req), req.body);
    reply.header('Location', `${baseUrl(req, d.publicUrl)}${app.prefix}/v2/images/${i.id}`);
    return reply.status(201).send(imageView(i));
  });

  app.get<IdParams>('/v2/images/:id', pre, async (req) => imageView(d.images.get(ctxOf(req), req.params.id)));

  app.patch<IdParams>('/v2/images/:id', pre, async (req) => {
    if (!PATCH_TYPES.test(mediaType(req))) {
      throw new UnsupportedMediaType(`Unsupported Content-Type: use application/openstack-images-v2.1-json-patch`);
    }
    const body = /-v2\.0-json-patch/.test(mediaType(req)) ? fromDraft4(req.body) : req.body;
    return imageView(d.images.update(ctxOf(req), req.params.id, body));
  });

  app.delete<IdParams>('/v2/images/:id', pre, async (req, reply) => {
    const gone = d.images.delete(ctxOf(req), req.params.id);
    await d.importer.forget(gone.id);
    const key = gone.store_key;
    for (const sid of key ? gone.stores.filter((x) => d.data.stores.has(x)) : []) {
      await d.data.stores
        .get(sid)
        .delete(key!)
        .catch((err) => req.log.warn({ err, key, store: sid }, 'could not remove image data'));
    }
    return reply.status(204).send();
  });

  // Data. The media type is checked before anything reads the body.
  const octetOnly = async (req: FastifyRequest) => {
    if (mediaType(req) !== 'application/octet-stream') {
      throw new UnsupportedMediaType('Unsupported Content-Type: image data must be sent as application/octet-stream');
    }
  };
  app.put<IdParams>('/v2/images/:id/file', { onRequest: [auth, octetOnly] }, async (req, reply) => {
    const cl = req.headers['content-length'];
    const length = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : null;
    // Refused part-way or before the first byte, the rest of the body is discarded and
    // the client reads the error instead of a reset connection.
    const body = uploadBody(req.raw);
    try {
      const store = req.headers['x-image-meta-store'];
      await d.data.upload(ctxOf(req), req.params.id, body, length, typeof store === 'string' ? store : undefined);
    } finally {
      body.destroy();
    }
    return reply.status(204).send();
  });

  app.get<IdParams>('/v2/images/:id/file', pre, async (req, reply: FastifyReply) => {
    const range = req.headers.range;
    const dl = await d.data.download(ctxOf(req), req.params.id, typeof range === 'string' ? range : undefined);
    if (!dl.reader) return reply.status(204).send();
    const size = dl.image.size!;
    const { start, end } = dl.range ?? { start: 0, end: size - 1 };
    const headers: Record<string, string> = {
      'Content-Type': 'application/octet-stream',
      'Content-Length': String(end - start + 1),
    };
    if (dl.image.checksum) headers['Content-MD5'] = dl.image.checksum;
    if (dl.range) headers['Content-Range'] = `bytes ${start}-${end}/${size}`;
    // The body goes out from two reused buffers (send.ts), not through reply.send(stream).
    reply.hijack();
    const res = reply.raw;
    try {
      res.writeHead(dl.range ? 206 : 200, { ...(reply.getHeaders() as Record<string, string>), ...headers });
      if (req.method === 'HEAD') res.end();
      else await sendBlocks(res, dl.reader, start, end);
    } catch (e) {
      req.log.warn({ err: e, image: dl.image.id }, 'image download cut short');
      res.destroy();
    } finally {
      await dl.reader.close().catch(() => {});
    }
  });

  // Actions and tags.
  app.post<IdParams>('/v2/images/:id/actions/deactivate', pre, async (req, reply) => {
    d.images.deactivate(ctxOf(req), req.params.id);
    return reply.status(204).send();
  });
  app.post<IdParams>('/v2/images/:id/actions/reactivate', pre, async (req, reply) => {
    d.images.reactivate(ctxOf(req), req.params.id);
    return reply.status(204).send();
  });
  app.put<TagParams>('/v2/images/:id/tags/:tag', pre, async (req, reply) => {
    d.images.addTag(ctxOf(req), req.params.id, req.params.tag);
    return reply.status(204).send();
  });
  app.delete<TagParams>('/v2/images/:id/tags/:tag', pre, async (req, reply) => {
    d.images.deleteTag(ctxOf(req), req.params.id, req.params.tag);
    return reply.status(204).send();
  });

  // Members.
  app.post<IdParams>('/v2/images/:id/members', pre, async (req) =>
    memberView(d.images.addMember(ctxOf(req), req.params.id, req.body)),
  );
  app.get<IdParams>('/v2/images/:id/members', pre, async (req) => ({
    members: d.images.listMembers(ctxOf(req), req.params.id).map(memberView),
    schema: '/v2/schemas/members',
  }));
  app.get<MemberParams>('/v2/images/:id/members/:member', pre, async (req) =>
    memberView(d.images.getMember(ctxOf(req), req.params.id, req.params.member)),
  );
  app.put<MemberParams>('/v2/images/:id/members/:member', pre, async (req) =>
    memberView(d.images.updateMember(ctxOf(req), req.params.id, req.params.member, req.body)),
  );
  app.delete<MemberParams>('/v2/images/:id/members/:member', pre, async (req, reply) => {
    d.images.deleteMember(ctxOf(req), req.params.id, req.params.member);
    return reply.status(204).send();
  });
}
