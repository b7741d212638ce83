import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { rootCertificates } from 'node:tls';
import type { AgentConfig } from '../../shared/config/agent.js';

/**
 * Which certificates the agent accepts from the controller over HTTPS (issue 17): the
 * system's CAs plus the cloud's CA — `tls.ca_file`, else `tls/ca.pem` beside the
 * credential file, where `host enrol-local` and `host add` install it. With neither, the
 * system's CAs alone (a controller with a certificate from a public CA, or plain HTTP).
 */
export function controllerCaFile(config: Pick<AgentConfig, 'tls' | 'credential_file'>): string | null {
  if (config.tls.ca_file) {
    if (!existsSync(config.tls.ca_file)) throw new Error(`tls.ca_file ${config.tls.ca_file} does not exist`);
    return config.tls.ca_file;
  }
  const beside = join(dirname(config.credential_file), 'tls', 'ca.pem');
  return existsSync(beside) ? beside : null;
}

/** The `ca` list for TLS connections to the controller, or undefined for Node's default (the system's CAs). */
export function controllerTrust(config: Pick<AgentConfig, 'tls' | 'credential_file'>): string[] | undefined {
  const file = controllerCaFile(config);
  return file ? [...rootCertificates, readFileSync(file, 'utf8')] : undefined;
}

/**
 * Makes undici's global dispatcher trust `ca`: every call to the controller made with
 * undici without its own dispatcher (image downloads, snapshot uploads, the metadata
 * proxy) then verifies the controller against the cloud's CA. undici is imported only
 * `client` (the host's certificate and key) is presented when a server asks for one. Imported only
 * here, when there is a CA to trust (the agent keeps its resident memory low otherwise).
 */
export async function trustForUndici(ca: string[], client?: { cert: string; key: string }): Promise<void> {
  const { Agent, setGlobalDispatcher } = await import('undici');
  // With the host's certificate as client certificate: another agent serving mutual TLS
  // (a move's file transfer) accepts it; the controller does not ask for one.
  setGlobalDispatcher(new Agent({ connect: { ca, ...(client ? { cert: client.cert, key: client.key } : {}) } }));
}
