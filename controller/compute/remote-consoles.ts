import type { FastifyInstance } from 'fastify';
import { Type } from 'typebox';
import { BadRequest, Conflict, NotFound, NotImplemented, ServiceUnavailable } from '../../shared/errors/index.js';
import type { ConsoleTokens } from '../console/tokens.js';
import type { AuthContext, Policy } from '../http/auth.js';
import { ctxOf } from '../http/auth.js';
import { must, publicBase, type ComputeCtx } from './context.js';
import { HostOpError } from './host-gateway.js';
import type { Instance } from './servers.repo.js';
import { visibleServer } from './servers.service.js';
import { validate } from '../http/validate.js';
import { mvAtLeast } from './versions.js';

/**
 * Nova's remote consoles (nova/api/openstack/compute/remote_consoles.py), VNC only:
 * - `POST /servers/{id}/remote-consoles` from 2.6:
 *   `{"remote_console": {"protocol": "vnc", "type": "novnc"}}` → 200
 *   `{"remote_console": {"protocol", "type", "url"}}`;
 * - the action `{"os-getVNCConsole": {"type": "novnc"}}` from 2.1 to 2.5 →
 *   200 `{"console": {"type", "url"}}` (what the SDK sends when 2.6 is not advertised).
 * The URL is `<public_url>/console/vnc.html#token=<token>`: a single-use token that
 * expires after console.token_ttl_s (controller/console/tokens.ts), in the fragment so
 * that no access log holds it (controller/console/page.ts).
 *
 * Errors as Nova: protocols and types it knows but we do not serve (spice, rdp,
 * serial; xvpvnc, spice-html5…) are 400 ConsoleTypeUnavailable / ConsoleTypeInvalid;
 * unknown values fail the schema (400); a server that is not ACTIVE or PAUSED, or whose
 * host reports no display, is 409; a host that cannot be reached is 503.
 */

export const REMOTE_CONSOLES_POLICY = 'os_compute_api:os-remote-consoles';

// Nova's 2.6 schema (mks/webmks came in 2.8).
const Protocols = ['vnc', 'spice', 'rdp', 'serial'] as const;
const Types = ['novnc', 'xvpvnc', 'rdp-html5', 'spice-html5', 'serial'] as const;
const lit = <T extends readonly string[]>(xs: T) => Type.Union(xs.map((x) => Type.Literal(x)));

export const RemoteConsoleBody = Type.Object(
  {
    remote_console: Type.Object(
      { protocol: lit(Protocols), type: lit(Types) },
      { additionalProperties: false, required: ['protocol', 'type'] },
    ),
  },
  { additionalProperties: false },
);
// 2.8 adds the mks protocol and its webmks type (VMware's console).
export const RemoteConsoleBodyV28 = Type.Object(
  {
    remote_console: Type.Object(
      { protocol: lit([...Protocols, 'mks'] as const), type: lit([...Types, 'webmks'] as const) },
      { additionalProperties: false, required: ['protocol', 'type'] },
    ),
  },
  { additionalProperties: false },
);
export const GetVncConsoleAction = Type.Object({ type: lit(['novnc', 'xvpvnc'] as const) }, { additionalProperties: false });

export interface ConsoleRequest {
  protocol: string;
  type: string;
}

/** A server's console as the API shows it. */
export interface RemoteConsole {
  protocol: 'vnc';
  type: 'novnc';
  url: string;
  /** When the token in `url` stops working. */
  expires_at: string;
}

function serverNotReady(i: Instance): Conflict {
  return new Conflict(
    `Instance ${i.id} is not ready: its console is available while it is ACTIVE or PAUSED (vm_state ${i.vm_state}${i.task_state ? `, task_state ${i.task_state}` : ''}).`,
    'InstanceNotReady',
  );
}

/**
 * Issues a console URL for a server the caller may see (policy
 * os_compute_api:os-remote-consoles). Checks with the host that the display exists, so
 * a URL is never handed out for a guest that is not running. `base` is the public base
 * URL the URL is built on.
 */
export async function createConsole(
  ctx: ComputeCtx,
  tokens: ConsoleTokens,
  auth: AuthContext,
  serverId: string,
  r: ConsoleRequest,
  base: string,
): Promise<RemoteConsole> {
  const i = visibleServer(ctx, auth, serverId);
  must(ctx, REMOTE_CONSOLES_POLICY, auth, { project_id: i.project_id });
  if (r.protocol !== 'vnc') throw new BadRequest(`Unavailable console type ${r.type}.`, 'ConsoleTypeUnavailable');
  if (r.type !== 'novnc') throw new BadRequest(`Invalid console type ${r.type}`, 'ConsoleTypeInvalid');
  if (!['active', 'paused'].includes(i.vm_state) || !i.host_id || !i.host) throw serverNotReady(i);
  const host = { id: i.host_id, name: i.host };
  if (ctx.gateway.vncConsole) {
    try {
      await ctx.gateway.vncConsole(host, i.id);
    } catch (e) {
      const code = e instanceof HostOpError ? e.code : '';
      if (code === 'AgentUnavailable')
        throw new ServiceUnavailable(
          `The host of instance ${i.id} cannot be reached for its console; try again later.`,
          'ConsoleUnavailable',
        );
      if (code === 'InvalidState' || code === 'InstanceNotFound') throw serverNotReady(i);
      throw e;
    }
  }
  const t = tokens.issue({ instanceId: i.id, hostId: host.id, projectId: i.project_id, protocol: 'vnc', type: 'novnc' });
  ctx.log.info({ server: i.id, host: host.name, user: auth.userId, expires_at: t.expiresAt.toISOString() }, 'console URL issued');
  return {
    protocol: 'vnc',
    type: 'novnc',
    url: `${base}/console/vnc.html#token=${encodeURIComponent(t.token)}`,
    expires_at: t.expiresAt.toISOString(),
  };
}

/** The body of `os-getVNCConsole` (2.1–2.5): `{"console": {"type", "url"}}`. */
export async function getVncConsoleAction(
  ctx: ComputeCtx,
  tokens: ConsoleTokens | undefined,
  auth: AuthContext,
  i: Instance,
  arg: unknown,
  base: string,
) {
  if (!tokens) throw new NotFound('There is no such action: os-getVNCConsole');
  const a = validate(GetVncConsoleAction, arg);
  const c = await createConsole(ctx, tokens, auth, i.id, { protocol: 'vnc', type: a.type }, base);
  return { console: { type: c.type, url: c.url } };
}

/** Registers Nova's default for the rule (project member or admin). */
export function registerRemoteConsolePolicy(policy: Policy): void {
  const p = policy as Policy & { register?: (r: Record<string, string>) => void };
  p.register?.({ [REMOTE_CONSOLES_POLICY]: 'rule:admin_required or (role:member and project_id:%(project_id)s)' });
}

/** POST /servers/{id}/remote-consoles (HTTP only). */
export function remoteConsoleRoutes(app: FastifyInstance, ctx: ComputeCtx, tokens: ConsoleTokens): void {
  app.post<{ Params: { id: string } }>('/servers/:id/remote-consoles', async (req) => {
    // Nova: the method does not exist below 2.6 (VersionNotFoundForAPIMethod → 404).
    if (!mvAtLeast(req.computeVersion, '2.6')) throw new NotFound('The resource could not be found.');
    const auth = ctxOf(req);
    const b = validate(mvAtLeast(req.computeVersion, '2.8') ? RemoteConsoleBodyV28 : RemoteConsoleBody, req.body);
    // Nova on libvirt: get_mks_console is NotImplementedError → 501.
    if (b.remote_console.protocol === 'mks') throw new NotImplemented('The requested functionality is not supported.');
    const c = await createConsole(ctx, tokens, auth, req.params.id, b.remote_console, publicBase(req, ctx));
    return { remote_console: { protocol: c.protocol, type: c.type, url: c.url } };
  });
}
