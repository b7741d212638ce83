import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { agentServerTls } from './agent-tls.js';

const dir = mkdtempSync(join(tmpdir(), 'hs-agenttls-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const cfg = (serve: 'auto' | 'mutual' | 'off', etc: string) => ({
  credential_file: join(etc, 'agent.key'),
  tls: { ca_file: '', serve },
});

describe("the agent port's TLS", () => {
  it('auto: plain HTTP until enrolment installed the CA, the host certificate and its key; then mutual TLS', () => {
    const etc = join(dir, 'a');
    mkdirSync(join(etc, 'tls'), { recursive: true });
    expect(agentServerTls(cfg('auto', etc))).toBeNull();
    writeFileSync(join(etc, 'tls', 'ca.pem'), 'CA');
    writeFileSync(join(etc, 'tls', 'host.pem'), 'CERT');
    expect(agentServerTls(cfg('auto', etc))).toBeNull();
    writeFileSync(join(etc, 'tls', 'host.key'), 'KEY');
    expect(agentServerTls(cfg('auto', etc))).toMatchObject({ ca: 'CA', cert: 'CERT', key: 'KEY' });
    expect(agentServerTls(cfg('off', etc))).toBeNull();
  });

  it('mutual: a missing file stops the agent with the file named', () => {
    const etc = join(dir, 'b');
    expect(() => agentServerTls(cfg('mutual', etc))).toThrow(/tls\.serve = "mutual" but .*host\.pem/);
  });
});
