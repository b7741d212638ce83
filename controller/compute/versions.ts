import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { BadRequest, CloudError } from '../../shared/errors/index.js';
import { baseUrl } from '../http/base-url.js';

/**
 * The highest compute microversion every change of which is implemented and tested
 * (api notes 1.8): raise it in deliberate steps.
 *
 * - 2.2: keypair `type`; keypair create 201 and delete 204 (versions.test, compute-api.test).
 * - 2.3: more OS-EXT-SRV-ATTR fields for admins (reservation_id, launch_index, hostname,
 *   kernel_id, ramdisk_id, root_device_name, user_data); `delete_on_termination` in
 *   volumes_attached.
 * - 2.4: `reserved` in os-fixed-ips: that proxy API is not served at any version.
 * - 2.5: the `ip6` server list filter for non-admins (served to everyone).
 * - 2.6: POST /servers/{id}/remote-consoles (protocol vnc, type novnc; the proxy is
 *   controller/console); the os-getVNCConsole action answers 404 from here on, as in
 *   Nova (remote-consoles.test).
 * Stops before 2.7 (adding tenant access to a public flavor must be a 409): not checked yet.
 */
export const COMPUTE_MAX_MICROVERSION = '2.6';
export const COMPUTE_MIN_MICROVERSION = '2.1';

/** A compute microversion, comparable as major*1000+minor. */
export interface Microversion {
  major: number;
  minor: number;
}

export const mv = (s: string): Microversion => {
  const [a, b] = s.split('.');
  return { major: Number(a), minor: Number(b) };
};
const rank = (v: Microversion): number => v.major * 1000 + v.minor;
export const mvAtLeast = (v: Microversion, s: string): boolean => rank(v) >= rank(mv(s));
export const mvString = (v: Microversion): string => `${v.major}.${v.minor}`;

export class VersionNotAcceptable extends CloudError {
  constructor(message: string) {
    super(406, message, 'VersionNotAcceptable');
  }
}

const header = (req: FastifyRequest, name: string): string | undefined => {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
};

/**
 * The microversion a request asks for (Nova's api_version_request): the
 * `OpenStack-API-Version: compute X` header wins over the legacy
 * `X-OpenStack-Nova-API-Version: X`; no header means the minimum (2.1); `latest` means
 * the maximum. A malformed value is a 400; a version outside [min, max] is a 406.
 */
export function parseMicroversion(
  headers: { openstack?: string; legacy?: string },
  max = COMPUTE_MAX_MICROVERSION,
  min = COMPUTE_MIN_MICROVERSION,
): Microversion {
  let raw: string | undefined;
  if (headers.openstack) {
    for (const part of headers.openstack.split(',')) {
      const [service, value] = part.trim().split(/\s+/, 2);
      if (service?.toLowerCase() === 'compute' && value) raw = value;
    }
  }
  if (raw === undefined && headers.legacy) raw = headers.legacy.trim();
  if (raw === undefined) return mv(min);
  if (raw.toLowerCase() === 'latest') return mv(max);
  const m = /^([1-9]\d*)\.(0|[1-9]\d*)$/.exec(raw);
  if (!m) throw new BadRequest(`API Version String ${raw} is of invalid format. Must be of format MajorNum.MinorNum.`);
  const v = { major: Number(m[1]), minor: Number(m[2]) };
  if (rank(v) < rank(mv(min)) || rank(v) > rank(mv(max))) {
    throw new VersionNotAcceptable(`Version ${raw} is not supported by the API. Minimum is ${min} and maximum is ${max}.`);
  }
  return v;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The compute microversion of this request (set by the compute plugin). */
    computeVersion: Microversion;
  }
}

/** onRequest hook: parse the microversion, echo it in the response headers. */
export function installMicroversions(app: FastifyInstance): void {
  app.decorateRequest('computeVersion', null as unknown as Microversion);
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    reply.header('Vary', 'OpenStack-API-Version, X-OpenStack-Nova-API-Version');
    req.computeVersion = mv(COMPUTE_MIN_MICROVERSION);
    const path = req.url.split('?')[0] ?? '';
    // Version documents carry no microversion.
    if (!/^\/compute\/v2\.1\/.+/.test(path) && !/^\/v2\.1\/.+/.test(path)) return;
    req.computeVersion = parseMicroversion({
      openstack: header(req, 'openstack-api-version'),
      legacy: header(req, 'x-openstack-nova-api-version'),
    });
    const s = mvString(req.computeVersion);
    reply.header('OpenStack-API-Version', `compute ${s}`);
    reply.header('X-OpenStack-Nova-API-Version', s);
  });
}

function entry(req: FastifyRequest, publicUrl?: string) {
  const base = `${baseUrl(req, publicUrl)}/compute`;
  return {
    id: 'v2.1',
    status: 'CURRENT',
    version: COMPUTE_MAX_MICROVERSION,
    min_version: COMPUTE_MIN_MICROVERSION,
    updated: '2013-07-23T11:33:21Z',
    links: [
      { rel: 'self', href: `${base}/v2.1/` },
      { rel: 'describedby', type: 'text/html', href: 'https://docs.openstack.org/' },
    ],
    'media-types': [{ base: 'application/json', type: 'application/vnd.openstack.compute+json;version=2.1' }],
  };
}

export function registerComputeVersions(app: FastifyInstance, publicUrl?: string): void {
  app.get('/', async (req) => ({ versions: [entry(req, publicUrl)] }));
  for (const p of ['/v2.1']) app.get(p, async (req) => ({ version: entry(req, publicUrl) }));
}
