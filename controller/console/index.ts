/**
 * The VNC console, for the dashboard (and anything else in the controller that shows
 * a server's screen).
 *
 * ```ts
 * import { createConsole } from '../../console/index.js';
 * // In a page's render(ctx) for /project/instances/:id (ctx.api is the signed-in user's CloudApi):
 * const c = await createConsole(ctx.api, serverId);   // ApiError 409 when not ACTIVE/PAUSED
 * html`<iframe class="console" src="${c.path}" title="Console" width="100%" height="480"></iframe>`
 * ```
 *
 * - `path` is same-origin (`/console/vnc.html#token=…`): use it for the iframe, so the
 *   URL does not depend on the Host the in-process API call carried. `url` is the
 *   absolute URL the API answered (what `openstack console url show` prints).
 * - Each URL opens one session and expires after console.token_ttl_s (600 s by
 *   default): create it when the page renders, not earlier, and a "reconnect" is a
 *   reload of the detail page (a new token).
 * - The console page allows framing by its own origin only (CSP frame-ancestors
 *   'self'); a dashboard CSP must allow `frame-src 'self'`.
 * - It goes through the compute API as the user (policy os_compute_api:os-remote-consoles,
 *   member or admin of the server's project): 404 for a server the user cannot see,
 *   409 for one that is not running, 503 when its host cannot be reached.
 */
export interface ConsoleLink {
  url: string;
  path: string;
  protocol: 'vnc';
  type: 'novnc';
}

/** The subset of the dashboard's CloudApi this needs (controller/dashboard/page.ts). */
export interface ComputeCaller {
  post<T = unknown>(service: 'compute', path: string, body?: unknown, headers?: Record<string, string>): Promise<T>;
}

export async function createConsole(api: ComputeCaller, serverId: string): Promise<ConsoleLink> {
  const r = await api.post<{ remote_console: { protocol: 'vnc'; type: 'novnc'; url: string } }>(
    'compute',
    `/v2.1/servers/${encodeURIComponent(serverId)}/remote-consoles`,
    { remote_console: { protocol: 'vnc', type: 'novnc' } },
    { 'OpenStack-API-Version': 'compute 2.6', 'X-OpenStack-Nova-API-Version': '2.6' },
  );
  const u = new URL(r.remote_console.url);
  return { url: r.remote_console.url, path: `${u.pathname}${u.search}${u.hash}`, protocol: 'vnc', type: 'novnc' };
}

export { consolePlugin, consoleTokensOf } from './plugin.js';
export { ConsoleTokens, ConsoleTokenInvalid, type ConsoleTarget } from './tokens.js';
