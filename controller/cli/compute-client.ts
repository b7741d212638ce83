import { request } from 'undici';
import { ApiCallError } from './aio/api-client.js';

/**
 * The compute API as an operator, for CLI commands that need the running controller
 * (host drain): signed in with the usual OS_* variables (admin-openrc.sh), the compute
 * endpoint taken from the token's catalog, as the openstack client does.
 */
export class ComputeClient {
  private constructor(
    readonly endpoint: string,
    private readonly token: string,
    private readonly microversion: string,
  ) {}

  /** Signs in with OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME (and their domains, OS_REGION_NAME). */
  static async fromEnv(env: NodeJS.ProcessEnv, microversion: string): Promise<ComputeClient> {
    const missing = ['OS_AUTH_URL', 'OS_USERNAME', 'OS_PASSWORD', 'OS_PROJECT_NAME'].filter((k) => !env[k]);
    if (missing.length)
      throw new CliCredentialsError(`${missing.join(', ')} not set: source an admin's openrc (/etc/homestack/admin-openrc.sh)`);
    const authUrl = env.OS_AUTH_URL!.replace(/\/+$/, '');
    const path = `${/\/v3$/.test(authUrl) ? authUrl : `${authUrl}/v3`}/auth/tokens`;
    const r = await request(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        auth: {
          identity: {
            methods: ['password'],
            password: {
              user: { name: env.OS_USERNAME, domain: { name: env.OS_USER_DOMAIN_NAME || 'Default' }, password: env.OS_PASSWORD },
            },
          },
          scope: { project: { name: env.OS_PROJECT_NAME, domain: { name: env.OS_PROJECT_DOMAIN_NAME || 'Default' } } },
        },
      }),
      headersTimeout: 30_000,
      bodyTimeout: 30_000,
    });
    const text = await r.body.text();
    if (r.statusCode !== 201) throw new ApiCallError('POST', path, r.statusCode, text);
    const catalog = (JSON.parse(text) as { token: { catalog?: CatalogEntry[] } }).token.catalog ?? [];
    const endpoint = computeEndpoint(catalog, env.OS_REGION_NAME);
    if (!endpoint) throw new CliCredentialsError('the catalog has no public compute endpoint');
    return new ComputeClient(endpoint.replace(/\/+$/, ''), String(r.headers['x-subject-token']), microversion);
  }

  /** A JSON call under the compute endpoint: the parsed body and the request id. */
  async call<T = any>(
    method: 'GET' | 'POST' | 'PUT',
    path: string,
    body?: unknown,
    ok: number[] = [200, 202],
  ): Promise<{ body: T; requestId: string }> {
    const r = await request(`${this.endpoint}${path}`, {
      method,
      headers: {
        'x-auth-token': this.token,
        accept: 'application/json',
        'openstack-api-version': `compute ${this.microversion}`,
        'x-openstack-nova-api-version': this.microversion,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    const text = await r.body.text();
    if (!ok.includes(r.statusCode)) throw new ApiCallError(method, path, r.statusCode, errorText(text));
    return { body: (text ? JSON.parse(text) : null) as T, requestId: String(r.headers['x-openstack-request-id'] ?? '') };
  }
}

export class CliCredentialsError extends Error {
  readonly status = 400;
}

interface CatalogEntry {
  type: string;
  endpoints: Array<{ interface: string; region?: string; region_id?: string; url: string }>;
}

/** The public compute endpoint (in OS_REGION_NAME when given). */
export function computeEndpoint(catalog: CatalogEntry[], region?: string): string | undefined {
  const eps = catalog.find((c) => c.type === 'compute')?.endpoints ?? [];
  return eps.find((e) => e.interface === 'public' && (!region || e.region === region || e.region_id === region))?.url;
}

/** The message of an OpenStack error document ({"badRequest": {"message": ...}}), else the text. */
export function errorText(text: string): string {
  try {
    const doc = JSON.parse(text) as Record<string, { message?: string }>;
    const first = Object.values(doc)[0];
    if (first && typeof first.message === 'string') return first.message;
  } catch {
    /* not JSON */
  }
  return text;
}
