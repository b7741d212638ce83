import { createHash, createHmac } from 'node:crypto';

/** OpenSSH's fingerprint of a public key blob: "SHA256:" + unpadded base64 of its SHA-256. */
export function fingerprint(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** How known_hosts names a host: "addr" on port 22, "[addr]:port" otherwise. */
export const knownHostsName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`);

function nameMatches(pattern: string, name: string): boolean {
  if (pattern.startsWith('|1|')) {
    // Hashed entry: |1|base64(salt)|base64(HMAC-SHA1(salt, name))
    const [, , salt, hash] = pattern.split('|');
    if (!salt || !hash) return false;
    return createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64') === hash;
  }
  return pattern.split(',').some((p) => p === name);
}

export type HostKeyVerdict = { kind: 'match' } | { kind: 'mismatch'; line: number } | { kind: 'unknown' };

/**
 * Looks the presented key up in known_hosts text (plain and hashed names, non-22 ports
 * as [host]:port; @revoked marks a key as refused; @cert-authority lines are skipped):
 * `match` when a line for the host has this key, `mismatch` when lines for the host
 * exist but none has it (a changed key: never accepted), `unknown` otherwise.
 */
export function checkKnownHosts(text: string, host: string, port: number, key: Buffer): HostKeyVerdict {
  const name = knownHostsName(host, port);
  const b64 = key.toString('base64');
  let mismatch = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!.trim();
    if (!l || l.startsWith('#')) continue;
    let f = l.split(/\s+/);
    let marker = '';
    if (f[0]!.startsWith('@')) {
      marker = f[0]!;
      f = f.slice(1);
    }
    if (marker === '@cert-authority' || f.length < 3 || !nameMatches(f[0]!, name)) continue;
    if (f[2] === b64) return marker === '@revoked' ? { kind: 'mismatch', line: i + 1 } : { kind: 'match' };
    mismatch = mismatch || i + 1;
  }
  return mismatch ? { kind: 'mismatch', line: mismatch } : { kind: 'unknown' };
}
