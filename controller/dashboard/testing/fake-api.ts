import { ApiError, type ApiResult, type CloudApi, type PageContext, type Service, type SessionView } from '../page.js';

/**
 * An in-memory CloudApi for page unit tests: canned bodies keyed by method, service and
 * path (query included), and a record of every call. A GET with no canned answer is a
 * 404 (so a page asking for something the test did not expect fails loudly); a write
 * with no canned answer returns `{}`.
 */
export interface Call {
  method: string;
  service: Service;
  path: string;
  body?: unknown;
}

type Answer = unknown | ((call: Call) => unknown);

export class FakeCloudApi implements CloudApi {
  readonly calls: Call[] = [];
  private answers = new Map<string, Answer>();

  /** Cans an answer; an ApiError (or a function throwing one) makes the call fail. */
  on(method: string, service: Service, path: string, answer: Answer): this {
    this.answers.set(`${method.toUpperCase()} ${service} ${path}`, answer);
    return this;
  }

  /** The writes made (everything but GET). */
  writes(): Call[] {
    return this.calls.filter((c) => c.method !== 'GET');
  }

  private answer(method: string, service: Service, path: string, body?: unknown): unknown {
    const call: Call = { method, service, path, ...(body !== undefined ? { body } : {}) };
    this.calls.push(call);
    const key = `${method} ${service} ${path}`;
    if (!this.answers.has(key)) {
      if (method === 'GET') throw new ApiError(404, `fake: nothing canned for ${key}`);
      return {};
    }
    const a = this.answers.get(key);
    if (a instanceof ApiError) throw a;
    const v = typeof a === 'function' ? (a as (c: Call) => unknown)(call) : a;
    // A deep copy, so a page mutating a body cannot change the next answer.
    return v === undefined ? v : structuredClone(v);
  }

  async get<T>(service: Service, path: string): Promise<T> {
    return this.answer('GET', service, path) as T;
  }
  async post<T>(service: Service, path: string, body?: unknown): Promise<T> {
    return this.answer('POST', service, path, body) as T;
  }
  async put<T>(service: Service, path: string, body?: unknown): Promise<T> {
    return this.answer('PUT', service, path, body) as T;
  }
  async patch<T>(service: Service, path: string, body: unknown): Promise<T> {
    return this.answer('PATCH', service, path, body) as T;
  }
  async delete<T>(service: Service, path: string): Promise<T> {
    return this.answer('DELETE', service, path) as T;
  }
  async raw<T>(method: string, service: Service, path: string, body?: unknown): Promise<ApiResult<T>> {
    try {
      return { status: 200, body: this.answer(method.toUpperCase(), service, path, body) as T };
    } catch (err) {
      if (err instanceof ApiError) return { status: err.status, body: { message: err.message } as T };
      throw err;
    }
  }
}

export const FAKE_CSRF = 'csrf-0123456789abcdef';
export const XSS = '<img src=x onerror=alert(1)>';
export const XSS_ESCAPED = '&lt;img src=x onerror=alert(1)&gt;';

/** A page context around a fake API: a member of project p1 unless `admin`. */
export function fakeContext(
  api: CloudApi,
  o: { admin?: boolean; params?: Record<string, string>; query?: Record<string, string> } = {},
): PageContext {
  const session: SessionView = {
    userId: 'u1',
    userName: 'alice',
    domainName: 'Default',
    projectId: 'p1',
    projectName: 'demo',
    projects: [{ id: 'p1', name: 'demo' }],
    roles: o.admin ? ['admin', 'member', 'reader'] : ['member', 'reader'],
    isAdmin: !!o.admin,
  };
  return { api, session, csrf: FAKE_CSRF, params: o.params ?? {}, query: o.query ?? {}, base: '/dashboard' };
}

/**
 * Checks common to every rendered page: the XSS probe never appears raw, and every
 * POST form carries the CSRF token. Returns the HTML for further assertions.
 */
export function checkSafe(out: { toString(): string }): string {
  const s = out.toString();
  if (s.includes(XSS))
    throw new Error(`unescaped markup in page: ...${s.slice(Math.max(0, s.indexOf(XSS) - 80), s.indexOf(XSS) + 60)}...`);
  const forms = s.match(/<form\b[\s\S]*?<\/form>/g) ?? [];
  for (const f of forms) {
    if (/method="post"/.test(f) && !f.includes(`name="_csrf" value="${FAKE_CSRF}"`))
      throw new Error(`POST form without _csrf: ${f.slice(0, 200)}`);
  }
  return s;
}
