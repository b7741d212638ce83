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
