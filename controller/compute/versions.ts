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
 * - 2.7: adding tenant access to a public flavor is a 409 (it is at every version).
 * - 2.8: remote-consoles accepts protocol mks / type webmks; on libvirt that is Nova's
 *   501 'The requested functionality is not supported.'
 * - 2.9: `locked` in server show, detail and the rebuild answer.
 * - 2.10: keypairs: an admin may name another user (`user_id`).
 * - 2.11: PUT /os-services/force-down and `forced_down` in os-services; a forced-down
 *   host counts as down (scheduler, evacuate) until it is unset.
 * - 2.12: net_id in os-virtual-interfaces: that proxy API is not served at any version.
 * - 2.13: server groups show project_id and user_id.
 * - 2.14: evacuate: no onSharedStorage, no adminPass in the answer.
 * - 2.15: soft-affinity / soft-anti-affinity server group policies.
 * - 2.16: `host_status` (UP, DOWN, MAINTENANCE, UNKNOWN) in server show/detail for admins.
 * - 2.17: the trigger_crash_dump action (an NMI to the guest, virsh inject-nmi).
 * - 2.18: URLs without a project id: served at every version.
 * - 2.19: server `description` (create, update, rebuild, views).
 * - 2.20: volume attach/detach on shelved_offloaded servers: shelve is not served.
 * - 2.21: os-instance-actions of deleted servers.
 * - 2.22: POST /servers/{id}/migrations/{mid}/action force_complete (issue 15).
 * - 2.23: GET /servers/{id}/migrations[/{mid}]; migration_type and links in os-migrations.
 * - 2.24: DELETE /servers/{id}/migrations/{mid}: abort a live migration.
 * - 2.25: os-migrateLive block_migration 'auto', no disk_over_commit.
 * - 2.26: server tags (/servers/{id}/tags, `tags` in views, tags/tags-any/not-tags/not-tags-any filters).
 * - 2.27: the OpenStack-API-Version header form: accepted at every version.
 * - 2.28: os-hypervisors cpu_info as a JSON object.
 * - 2.29: evacuate `force`.
 * - 2.30: os-migrateLive `force` (and a host the scheduler checks when force is false).
 * Tests: migrations.test.ts, compute-api tests per step (see the issue 15 commits).
 * Stops before 2.31 (the serial console's websocket URL change): not checked.
 */
export const COMPUTE_MAX_MICROVERSION = '2.30';
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
