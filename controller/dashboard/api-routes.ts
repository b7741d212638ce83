import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { agentLayerOf } from '../agents/index.js';
import type { ServiceDeps } from '../http/service-deps.js';
import { instanceUsage } from './instance-usage.js';
import { ApiError, type PageContext } from './page.js';
import type { Session } from './sessions.js';

interface ApiDeps {
  deps: ServiceDeps;
  guard: (req: FastifyRequest, reply: FastifyReply) => Promise<Session | null>;
  ctxOf: (req: FastifyRequest, s: Session) => PageContext;
}

const ID = /^[A-Za-z0-9-]{1,64}$/;

/**
 * The few JSON routes the dashboard's script calls (same session and CSRF rules as the
 * pages): live server status, and the image upload, which streams the browser's body
 * into the image store without buffering it (app.inject would).
 */
export function registerDashboardApi(app: FastifyInstance, a: ApiDeps): void {
  app.addContentTypeParser('application/octet-stream', (_req, _payload, done) => done(null, undefined));

  app.get('/api/servers', async (req, reply) => {
    const s = await a.guard(req, reply);
    if (!s) return reply;
    const r = await a.ctxOf(req, s).api.get<{ servers: Array<Record<string, any>> }>('compute', '/v2.1/servers/detail');
    return {
      servers: r.servers.map((v) => ({
        id: v.id,
        status: v.status,
        task_state: v['OS-EXT-STS:task_state'] ?? null,
        power_state: v['OS-EXT-STS:power_state'] ?? null,
      })),
    };
  });

  // Per-instance counters for the detail page's charts (Ceilometer's job, from the data
  // the agents serve to Prometheus): whoever may see the server through the API.
  app.get<{ Params: { id: string } }>('/api/servers/:id/usage', async (req, reply) => {
    const s = await a.guard(req, reply);
    if (!s) return reply;
    const id = req.params.id;
    if (!ID.test(id)) throw new ApiError(404, `Instance ${id} could not be found.`);
    await a.ctxOf(req, s).api.get('compute', `/v2.1/servers/${id}`);
    const sample = await instanceUsage(a.deps.db, agentLayerOf(a.deps), id).catch(() => null);
    return { usage: sample };
  });

  app.post('/api/images', async (req, reply) => {
    const s = await a.guard(req, reply);
    if (!s) return reply;
    const b = (req.body ?? {}) as Record<string, unknown>;
    const body: Record<string, unknown> = {
      name: String(b.name ?? '').slice(0, 255),
      disk_format: String(b.disk_format ?? 'qcow2'),
      container_format: String(b.container_format ?? 'bare'),
      visibility: String(b.visibility ?? 'private'),
    };
    const img = await a.ctxOf(req, s).api.post<{ id: string }>('image', '/v2/images', body);
    return reply.status(201).send({ id: img.id });
  });

  // Import from a URL (Glance's web-download), and its progress for the bar: the API's
  // image status and task message, with the bytes so far from the import itself.
  app.post<{ Params: { id: string }; Body: { uri?: unknown } }>('/api/images/:id/import', async (req, reply) => {
    const s = await a.guard(req, reply);
    if (!s) return reply;
    const id = req.params.id;
    if (!ID.test(id)) throw new ApiError(404, `No image with ID ${id}`);
    const uri = String(req.body?.uri ?? '');
    await a.ctxOf(req, s).api.post('image', `/v2/images/${id}/import`, { method: { name: 'web-download', uri } });
    return reply.status(202).send({ id });
  });

  app.delete<{ Params: { id: string } }>('/api/images/:id', async (req, reply) => {
    const s = await a.guard(req, reply);
    if (!s) return reply;
    const id = req.params.id;
    if (!ID.test(id)) throw new ApiError(404, `No image with ID ${id}`);
    await a.ctxOf(req, s).api.delete('image', `/v2/images/${id}`);
    return reply.status(204).send();
  });

  app.get<{ Params: { id: string } }>('/api/images/:id/import', async (req, reply) => {
    const s = await a.guard(req, reply);
    if (!s) return reply;
    const id = req.params.id;
    if (!ID.test(id)) throw new ApiError(404, `No image with ID ${id}`);
    const api = a.ctxOf(req, s).api;
    const img = await api.get<{ status: string; size: number | null; os_glance_failed_import?: string }>(
      'image',
      `/v2/images/${id}`,
    );
    const { tasks } = await api.get<{ tasks: Array<{ status: string; message: string }> }>('image', `/v2/images/${id}/tasks`);
    const task = tasks[tasks.length - 1] ?? null;
    const p = a.deps.facades.images?.importProgress(id) ?? null;
    return {
      status: img.status,
      size: img.size,
      bytes: p?.bytes ?? null,
      total: p?.total ?? null,
      task_status: task?.status ?? null,
      message: task?.message ?? '',
    };
  });

  app.put<{ Params: { id: string } }>('/api/images/:id/file', { bodyLimit: Number.MAX_SAFE_INTEGER }, async (req, reply) => {
    const s = await a.guard(req, reply);
    if (!s) return reply;
    const id = req.params.id;
    if (!ID.test(id)) throw new ApiError(404, `No image with ID ${id}`);
    // As the user: 404 if it cannot see the image; then only its own project's image.
    const img = await a.ctxOf(req, s).api.get<{ owner: string; status: string }>('image', `/v2/images/${id}`);
    if (img.owner !== s.projectId && !s.isAdmin) throw new ApiError(403, `Not allowed to upload image data for image ${id}`);
    if ((req.headers['content-type'] ?? '').split(';')[0] !== 'application/octet-stream')
      throw new ApiError(415, 'Content-Type must be application/octet-stream.');
    const images = a.deps.facades.images;
    if (!images) throw new Error('the image service is not wired');
    try {
      const done = await images.upload(id, req.raw);
      return reply.status(201).send({ id: done.id, status: done.status, size: done.size });
    } catch (err) {
      const e = err as { statusCode?: number; status?: number; message: string };
      const code = e.statusCode ?? e.status;
      if (typeof code === 'number' && code < 500) throw new ApiError(code, e.message);
      throw err;
    }
  });
}
