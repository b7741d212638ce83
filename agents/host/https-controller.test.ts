import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { enrolLocal } from '../../controller/cli/hosts.js';

/**
 * The slice of issue 17 end to end with real processes and no setting beyond
 * `tls.enabled`: `host enrol-local` installs the cloud's CA beside the credential, the
 * controller serves HTTPS with the CA's API certificate, and an agent (no roles) with an
 * `https://` controller_url registers and heartbeats, trusting it through that CA alone.
 */
const dir = mkdtempSync(join(tmpdir(), 'hs-https-ctl-'));
const ROOT = resolve(import.meta.dirname, '..', '..');
const procs: ChildProcess[] = [];
afterAll(() => {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

async function freePort(): Promise<number> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 10000);
    const ok = await new Promise<boolean>((res) => {
      const s = createServer();
      s.once('error', () => res(false));
      s.listen(port, '127.0.0.1', () => s.close(() => res(true)));
    });
    if (ok) return port;
  }
}

function start(script: string, config: string) {
  const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, script), '--config', config], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  procs.push(p);
  const out = { text: '' };
  p.stdout!.on('data', (d) => {
    out.text += String(d);
  });
  p.stderr!.on('data', (d) => {
    out.text += String(d);
  });
  return { p, out };
}

async function until(what: () => boolean, ms: number, why: () => string) {
  for (const t0 = Date.now(); Date.now() - t0 < ms; await new Promise((r) => setTimeout(r, 100))) if (what()) return;
  throw new Error(`timed out:\n${why()}`);
}

describe('an agent and an HTTPS controller (real processes)', () => {
  it('registers and heartbeats over HTTPS, trusting the controller through the CA enrolment installed', async () => {
    const [ctlPort, agentPort] = [await freePort(), await freePort()];
    const ctlToml = join(dir, 'controller.toml');
    const agentToml = join(dir, 'agent.toml');
    writeFileSync(
      ctlToml,
      [
        `data_dir = "${join(dir, 'ctl')}"`,
        '[listen]',
        'host = "127.0.0.1"',
        `port = ${ctlPort}`,
        '[tls]',
        'enabled = true',
        '',
      ].join('\n'),
    );
    writeFileSync(
      agentToml,
      [
        'host = "https-agent"',
        'roles = []',
        `data_dir = "${join(dir, 'agent')}"`,
        `credential_file = "${join(dir, 'etc', 'agent.key')}"`,
        `controller_url = "https://127.0.0.1:${ctlPort}"`,
        'heartbeat_s = 1',
        '[listen]',
        'host = "127.0.0.1"',
        `port = ${agentPort}`,
        '',
      ].join('\n'),
    );
    const enrolled = await enrolLocal(['--config', ctlToml, '--agent-config', agentToml]);
    expect(enrolled.hostTls.issued).toBe(true);

    const ctl = start('controller/main.ts', ctlToml);
    await until(
      () => /Server listening/.test(ctl.out.text),
      20_000,
      () => ctl.out.text,
    );
    expect(ctl.out.text).toMatch(/"source":"ca".*"msg":"serving HTTPS"/);
    const agent = start('agents/main.ts', agentToml);
    await until(
      () => /registered with the controller/.test(agent.out.text),
      20_000,
      () => `${agent.out.text}\n---\n${ctl.out.text}`,
    );
    // a heartbeat or two more over the same channel, nothing refused on either side
    await new Promise((r) => setTimeout(r, 2500));
    expect(agent.out.text).not.toMatch(/self[- ]signed|unable to verify|certificate/i);
    expect(agent.out.text).not.toMatch(/"level":(40|50)/);
    for (const x of [agent, ctl]) x.p.kill('SIGTERM');
    await until(
      () => agent.p.exitCode !== null && ctl.p.exitCode !== null,
      15_000,
      () => 'processes did not stop',
    );
  }, 60_000);
});
