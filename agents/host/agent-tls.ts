import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { AgentConfig } from '../../shared/config/agent.js';

/**
 * The agent's side of mutual TLS on the agent channel (issue 17, item 3). Enrolment
 * (`host enrol-local`, `host add`) installs beside the credential file:
 *
 *   tls/ca.pem    the cloud's CA: the only CA a caller's client certificate may chain to
 *   tls/host.pem  this host's certificate (server and client use), tls/host.key its key
 *
 * With `tls.serve = "auto"` (default) the agent serves HTTPS with them when all three
 * exist, and refuses at the handshake a client without a certificate of the cloud's CA
 * (the controller presents its `homestack-controller` certificate, other agents their
 * host certificate for move transfers); the host secret stays the second factor.
 */
export interface AgentServerTls {
  cert: string;
  key: string;
  ca: string;
  certFile: string;
}

export function agentTlsFiles(config: Pick<AgentConfig, 'credential_file'>) {
  const dir = join(dirname(config.credential_file), 'tls');
  return { caFile: join(dir, 'ca.pem'), certFile: join(dir, 'host.pem'), keyFile: join(dir, 'host.key') };
}

/** The TLS the agent's port serves, or null for plain HTTP. Throws when `serve = "mutual"` and a file is missing. */
export function agentServerTls(config: Pick<AgentConfig, 'credential_file' | 'tls'>): AgentServerTls | null {
  if (config.tls.serve === 'off') return null;
  const f = agentTlsFiles(config);
  const missing = [f.caFile, f.certFile, f.keyFile].filter((p) => !existsSync(p));
  if (missing.length) {
    if (config.tls.serve === 'mutual')
      throw new Error(
        `tls.serve = "mutual" but ${missing.join(', ')} missing (enrolment installs them: homestack host enrol-local)`,
      );
    return null;
  }
  return {
    cert: readFileSync(f.certFile, 'utf8'),
    key: readFileSync(f.keyFile, 'utf8'),
    ca: readFileSync(f.caFile, 'utf8'),
    certFile: f.certFile,
  };
}
