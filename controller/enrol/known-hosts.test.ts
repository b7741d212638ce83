import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkKnownHosts, fingerprint, knownHostsName } from './known-hosts.js';
import { shJoin, shQuote } from './remote.js';

const key = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIExampleKeyBlobForTestsOnly0123456789', 'base64');
const other = Buffer.from('AAAAC3NzaC1lZDI1NTE5AAAAIAnotherKeyBlobForTestsOnly987654321', 'base64');
const b64 = key.toString('base64');

function hashed(name: string): string {
  const salt = randomBytes(20);
  return `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;
}

describe('known_hosts', () => {
  it('fingerprints like ssh-keygen -lf (SHA256:, unpadded base64)', () => {
    expect(fingerprint(key)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
  it('names non-22 ports as [host]:port', () => {
    expect(knownHostsName('192.0.2.5', 22)).toBe('192.0.2.5');
    expect(knownHostsName('192.0.2.5', 2222)).toBe('[192.0.2.5]:2222');
  });
  it('matches plain, comma-listed and hashed entries', () => {
    expect(checkKnownHosts(`h1,192.0.2.5 ssh-ed25519 ${b64}\n`, '192.0.2.5', 22, key)).toEqual({ kind: 'match' });
    expect(checkKnownHosts(`${hashed('[192.0.2.5]:2222')} ssh-ed25519 ${b64}\n`, '192.0.2.5', 2222, key)).toEqual({
      kind: 'match',
    });
    expect(checkKnownHosts(`${hashed('192.0.2.5')} ssh-ed25519 ${b64}\n`, '192.0.2.6', 22, key)).toEqual({ kind: 'unknown' });
  });
  it('a changed key is a mismatch naming the line; @revoked refuses; unknown hosts are unknown', () => {
    const text = `# comment\n192.0.2.9 ssh-ed25519 ${b64}\n192.0.2.5 ssh-ed25519 ${other.toString('base64')}\n`;
    expect(checkKnownHosts(text, '192.0.2.5', 22, key)).toEqual({ kind: 'mismatch', line: 3 });
    expect(checkKnownHosts(`@revoked 192.0.2.5 ssh-ed25519 ${b64}\n`, '192.0.2.5', 22, key)).toEqual({
      kind: 'mismatch',
      line: 1,
    });
    expect(checkKnownHosts('', '192.0.2.5', 22, key)).toEqual({ kind: 'unknown' });
    expect(checkKnownHosts(`@cert-authority 192.0.2.5 ssh-ed25519 ${b64}\n`, '192.0.2.5', 22, key)).toEqual({ kind: 'unknown' });
  });
});

describe('remote shell quoting', () => {
  it('leaves plain words alone and single-quotes the rest', () => {
    expect(shQuote('apt-get')).toBe('apt-get');
    expect(shQuote('/opt/homestack/etc')).toBe('/opt/homestack/etc');
    expect(shQuote('')).toBe("''");
    expect(shQuote("a b'c;$(rm -rf /)")).toBe(`'a b'\\''c;$(rm -rf /)'`);
  });
  it('joins argv so the remote sh sees each element as one literal argument', async () => {
    const { execFileSync } = await import('node:child_process');
    const argv = ['printf', '%s\\n', "it's", 'a b', '$HOME', '`id`', ';', '*', 'x\ny', ''];
    const out = execFileSync('/bin/sh', ['-c', shJoin(argv)], { encoding: 'utf8' });
    expect(out).toBe(
      argv
        .slice(2)
        .map((a) => `${a}\n`)
        .join(''),
    );
  });
});
