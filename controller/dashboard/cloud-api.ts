import type { FastifyInstance } from 'fastify';
import { ApiError, type ApiResult, type CloudApi, type Service } from './page.js';

/**
 * The signed-in user's view of the cloud: the controller's own OpenStack routes called
 * in-process (app.inject) with the session's token, so every policy and project check
 * of the APIs applies to the dashboard unchanged.
 */
export function cloudApi(app: FastifyInstance, token: string): CloudApi {
  const raw = async <T>(
    method: string,
    service: Service,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ): Promise<ApiResult<T>> => {
    const r = await app.inject({
      method: method as 'GET',
      url: `/${service}${path}`,
      headers: {
        'x-auth-token': token,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
    });
    let parsed: unknown = null;
    try {
      parsed = r.body ? r.json() : null;
    } catch {
      parsed = r.body;
    }
    return { status: r.statusCode, body: parsed as T };
  };
  const call = async <T>(
    method: string,
    service: Service,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<T> => {
    const r = await raw<T>(method, service, path, body, headers);
    if (r.status >= 400) throw new ApiError(r.status, errorMessage(r.body) ?? `HTTP ${r.status}`);
    return r.body;
  };
  return {
    get: (s, p) => call('GET', s, p),
    post: (s, p, b, h) => call('POST', s, p, b ?? {}, h),
    put: (s, p, b, h) => call('PUT', s, p, b ?? {}, h),
    patch: (s, p, b, ct) => call('PATCH', s, p, b, ct ? { 'content-type': ct } : undefined),
    delete: (s, p) => call('DELETE', s, p),
    raw,
  };
}

/** The message of any of the OpenStack error documents (Neutron, Nova/Cinder, Keystone, Glance). */
export function errorMessage(body: unknown): string | undefined {
  if (!body || typeof body !== 'object') return typeof body === 'string' && body ? body : undefined;
  const b = body as Record<string, any>;
  if (typeof b.message === 'string') return b.message;
  const inner =
    b.NeutronError ?? b.error ?? Object.values(b).find((v) => v && typeof v === 'object' && typeof v.message === 'string');
  return typeof inner?.message === 'string' ? inner.message : undefined;
}
