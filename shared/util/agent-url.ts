import { networkInterfaces } from 'node:os';
import type { AgentConfig } from '../config/agent.js';

/** The first non-internal IPv4 address of this machine, else loopback. */
export function primaryIPv4(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/**
 * The URL the controller uses to reach this agent: `listen.advertise`, else the listen
 * host, else (listening on a wildcard) the first non-loopback IPv4; `https` when the
 * agent serves mutual TLS.
 */
export function agentUrl(c: AgentConfig, scheme: 'http' | 'https' = 'http'): string {
  const wildcard = c.listen.host === '0.0.0.0' || c.listen.host === '::' || c.listen.host === '';
  const h = c.listen.advertise || (wildcard ? primaryIPv4() : c.listen.host);
  return `${scheme}://${h.includes(':') ? `[${h}]` : h}:${c.listen.port}`;
}
