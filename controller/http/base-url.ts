import type { FastifyRequest } from 'fastify';

/**
 * The URL clients used to reach us, as Keystone builds its links: the configured
 * public URL when set, otherwise from X-Forwarded-Proto/Host or the Host header.
 */
export function baseUrl(req: FastifyRequest, publicUrl?: string): string {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  const fwdProto = req.headers['x-forwarded-proto'];
  const fwdHost = req.headers['x-forwarded-host'];
  const proto = (Array.isArray(fwdProto) ? fwdProto[0] : fwdProto)?.split(',')[0]?.trim() || req.protocol || 'http';
  const host = (Array.isArray(fwdHost) ? fwdHost[0] : fwdHost)?.split(',')[0]?.trim() || req.headers.host || 'localhost';
  return `${proto}://${host}`;
}

/** http or https: how this controller's API port answers (`tls.enabled`). */
export const schemeOf = (config: { tls: { enabled: boolean } }): 'http' | 'https' => (config.tls.enabled ? 'https' : 'http');

/**
 * The controller's own base URL for callers on this machine when no public URL is set
 * (127.0.0.1 for a wildcard listen address), in the scheme it serves.
 */
export function localBaseUrl(config: { tls: { enabled: boolean }; listen: { host: string; port: number } }): string {
  const h = config.listen.host === '0.0.0.0' ? '127.0.0.1' : config.listen.host === '::' ? '::1' : config.listen.host;
  return `${schemeOf(config)}://${h.includes(':') ? `[${h}]` : h}:${config.listen.port}`;
}
