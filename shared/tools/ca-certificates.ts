import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Runner } from '../exec/run.js';

/**
 * update-ca-certificates (Debian's ca-certificates), the one module that runs it: puts a
 * CA certificate into the host's trust store, so the host's own clients (curl, Python's
 * requests and the openstack client, OpenSSL) verify what the cloud's CA issued. This is
 * what devstack does with its own CA under USE_SSL (lib/tls: the CA copied to
 * /usr/local/share/ca-certificates, then update-ca-certificates).
 */
const FILE_RE = /^\/usr\/local\/share\/ca-certificates\/[A-Za-z0-9._-]+\.crt$/;

export const caCertificates = (run: Runner) => ({
  /** Installs `pem` as `file` (…/ca-certificates/NAME.crt) and refreshes the bundle. Idempotent: true when it changed anything. */
  install: async (file: string, pem: string): Promise<boolean> => {
    if (!FILE_RE.test(file)) throw new Error(`bad trust store file ${JSON.stringify(file)}`);
    if (existsSync(file) && readFileSync(file, 'utf8') === pem) return false;
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, pem, { mode: 0o644 });
    await run('update-ca-certificates', [], { timeoutMs: 60_000 });
    return true;
  },
});
