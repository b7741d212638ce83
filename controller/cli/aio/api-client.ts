import type { Readable } from 'node:stream';
import { type Dispatcher, request } from 'undici';

/** A reply the client did not expect: status and the service's error text. */
export class ApiCallError extends Error {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly status: number,
    body: string,
  ) {
    super(`${method} ${path}: HTTP ${status}: ${body.slice(0, 300)}`);
    this.name = 'ApiCallError';
  }
}

export interface Credentials {
  username: string;
  password: string;
  project: string;
  domain?: string;
}

/**
 * The OpenStack APIs of one cloud as one user, for the install (homestack aio up): a
 * project-scoped token and JSON calls under the controller's service prefixes.
 */
export class CloudApi {
  private constructor(
    readonly base: string,
    private readonly token: string,
    readonly projectId: string,
    readonly userId: string,
    private readonly dispatcher?: Dispatcher,
  ) {}

  /** Signs in with a password, scoped to `c.project`; `dispatcher` e.g. to trust the cloud's CA over https. */
  static async login(base: string, c: Credentials, dispatcher?: Dispatcher): Promise<CloudApi> {
    const domain = { name: c.domain ?? 'Default' };
    const r = await request(`${base}/identity/v3/auth/tokens`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: { methods: ['password'], password: { user: { name: c.username, domain, password: c.password } } },
          scope: { project: { name: c.project, domain } },
        },
      }),
      ...(dispatcher ? { dispatcher } : {}),
    });
    const text = await r.body.text();
    if (r.statusCode !== 201) throw new ApiCallError('POST', '/identity/v3/auth/tokens', r.statusCode, text);
    const tok = JSON.parse(text) as { token: { project: { id: string }; user: { id: string } } };
    return new CloudApi(base, String(r.headers['x-subject-token']), tok.token.project.id, tok.token.user.id, dispatcher);
  }

  /** A JSON call; resolves with the parsed body (null for an empty one) when the status is one of `ok`. */
  async call<T = any>(
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    body?: unknown,
    o: { ok?: number[]; contentType?: string; headers?: Record<string, string> } = {},
  ): Promise<T> {
    const r = await request(`${this.base}${path}`, {
      method,
      headers: {
        'x-auth-token': this.token,
        accept: 'application/json',
        ...(body !== undefined ? { 'content-type': o.contentType ?? 'application/json' } : {}),
        ...o.headers,
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
    });
    const text = await r.body.text();
    if (!(o.ok ?? [200, 201, 202, 204]).includes(r.statusCode)) throw new ApiCallError(method, path, r.statusCode, text);
    return (text ? JSON.parse(text) : null) as T;
  }

  /** Streams `data` (`length` bytes) with PUT as application/octet-stream. */
  async putData(path: string, data: Readable, length: number): Promise<void> {
    const r = await request(`${this.base}${path}`, {
      method: 'PUT',
      headers: { 'x-auth-token': this.token, 'content-type': 'application/octet-stream', 'content-length': String(length) },
      body: data,
      ...(this.dispatcher ? { dispatcher: this.dispatcher } : {}),
    });
    const text = await r.body.text();
    if (r.statusCode !== 204) throw new ApiCallError('PUT', path, r.statusCode, text);
  }
}
