import type { FastifyInstance } from 'fastify';

/** A cookie jar over app.inject: what a browser does with the dashboard, for unit tests. */
export class InjectBrowser {
  readonly cookies = new Map<string, string>();
  constructor(private readonly app: FastifyInstance) {}

  async go(
    method: 'GET' | 'POST' | 'PUT',
    url: string,
    form?: Record<string, string>,
    headers: Record<string, string> = {},
    payload?: Buffer | string,
  ) {
    const cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    const r = await this.app.inject({
      method,
      url,
      headers: { cookie, ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}), ...headers },
      ...(form ? { payload: new URLSearchParams(form).toString() } : payload !== undefined ? { payload } : {}),
    });
    for (const c of [r.headers['set-cookie'] ?? []].flat() as string[]) {
      const [kv] = c.split(';');
      const i = kv!.indexOf('=');
      const k = kv!.slice(0, i);
      const v = kv!.slice(i + 1);
      if (v === '' || /Max-Age=0/i.test(c)) this.cookies.delete(k);
      else this.cookies.set(k, v);
    }
    return r;
  }

  /** Signs in through the login form; returns the sign-in response. */
  async signIn(user: string, password: string, domain = 'Default') {
    const login = await this.go('GET', '/dashboard/login');
    return this.go('POST', '/dashboard/login', { _csrf: hiddenValue(login.body, '_csrf'), domain, username: user, password });
  }
}

export const hiddenValue = (page: string, name: string): string =>
  page.match(new RegExp(`name="${name}" value="([^"]+)"`))?.[1] ?? '';
