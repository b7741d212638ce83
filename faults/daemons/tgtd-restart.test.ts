import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileBackend } from '../../agents/volume/file.js';
import { VolumeService } from '../../agents/volume/service.js';
import { TgtTarget } from '../../agents/volume/tgt.js';
import { makeRunner } from '../../shared/exec/run.js';
import { tgtadm } from '../../shared/tools/tgtadm.js';

/**
 * Issue 11, scenario 3 (tgt half): tgtd dies (kill -9) and is started again under a
 * running volume agent. A PRIVATE tgtd (its own control port and iSCSI portal on
 * 127.0.0.1), never the machine's shared one. tgtd keeps nothing across a restart;
 * the agent's export check (VolumeService.healExports, every 10 s in the agent, every
 * 0.5 s here) re-exports the stored volumes and re-applies the connections it let in.
 */
const why =
  process.env.SYSTEM_TESTS !== '1'
    ? 'SYSTEM_TESTS=1 is not set'
    : process.getuid?.() !== 0
      ? 'needs root'
      : !existsSync('/usr/sbin/tgtd')
        ? 'tgtd is not installed'
        : '';
if (why) console.log(`[skip] faults/daemons tgtd restart: ${why}`);

const run = makeRunner();
const runId = `t${Date.now().toString(36)}`;
const CONTROL = 7300 + Math.floor(Math.random() * 80);
const PORTAL = 3300 + Math.floor(Math.random() * 80);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!!why)('tgtd restart under a running volume agent (private tgtd)', () => {
  const dir = `/tmp/${runId}-tgt`;
  const pidFile = join(dir, 'tgtd.pid');
  const figures: Record<string, unknown> = { control_port: CONTROL, portal_port: PORTAL };
  const tgt = tgtadm(run, { controlPort: CONTROL });
  let svc: VolumeService;
  const vols = [randomUUID(), randomUUID()]; // files in this test's own folder
  const startTgtd = async () => {
    rmSync(pidFile, { force: true });
    await run('tgtd', ['-C', String(CONTROL), '--iscsi', `portal=127.0.0.1:${PORTAL}`, '-p', pidFile]);
    for (let i = 0; i < 50; i++) {
      if (
        await tgt.show().then(
          () => true,
          () => false,
        )
      )
        return;
      await sleep(100);
    }
    throw new Error('private tgtd did not answer');
  };
  const stopTgtd = () => {
    try {
      process.kill(Number(readFileSync(pidFile, 'utf8').trim()), 'SIGKILL');
    } catch {
      /* not running */
    }
  };

  beforeAll(async () => {
    mkdirSync(join(dir, 'vols'), { recursive: true });
    await startTgtd();
    const backend = new FileBackend({ dir: join(dir, 'vols'), run });
    await backend.init();
    const target = new TgtTarget({
      run,
      iqnPrefix: `iqn.2026-11.org.homestack.${runId}`,
      portalIp: '127.0.0.1',
      portalPort: PORTAL,
      controlPort: CONTROL,
    });
    svc = new VolumeService(backend, target, { workDir: join(dir, 'work') });
    for (const v of vols) await backend.create({ id: v, sizeGb: 1 });
    expect(await svc.restoreExports()).toBe(2);
    await svc.initializeConnection(
      vols[0]!,
      { initiator: `iqn.2026-11.org.${runId}:guest`, address: '127.0.0.1' },
      { username: `hs-${runId}`, password: 'Secret-' + runId.padEnd(16, 'x') },
    );
  }, 60_000);

  afterAll(async () => {
    console.log(`[figures] ${JSON.stringify(figures)}`);
    stopTgtd();
    rmSync(dir, { recursive: true, force: true });
    for (const f of [`socket.${CONTROL}`, `socket.${CONTROL}.lock`]) rmSync(join('/var/run/tgtd', f), { force: true });
  });

  it('kill -9 + start: the exports, LUN backing files, CHAP account and ACL come back within one check; a further check has nothing to do', async () => {
    const before = await svc['target'].list();
    expect(before.map((e) => e.volumeId).sort()).toEqual([...vols].sort());
    const t0 = performance.now();
    stopTgtd();
    await startTgtd();
    figures.tgtd_restart_ms = Math.round(performance.now() - t0);
    figures.exports_right_after_restart = (await tgt.show()).targets.length;
    expect(figures.exports_right_after_restart).toBe(0);
    // The agent's timer (10 s in agents/volume/main.ts; 0.5 s here).
    let restored = 0;
    while (performance.now() - t0 < 30_000) {
      restored = await svc.healExports();
      if (restored) break;
      await sleep(500);
    }
    figures.exports_back_ms = Math.round(performance.now() - t0);
    expect(restored).toBe(2);
    const show = await tgt.show();
    const after = await svc['target'].list();
    expect(after.map((e) => e.volumeId).sort()).toEqual([...vols].sort());
    expect(after.find((e) => e.volumeId === vols[0])!.users).toEqual([`hs-${runId}`]);
    expect(after.every((e) => e.devicePath?.startsWith(join(dir, 'vols')))).toBe(true);
    expect(show.accounts).toContain(`hs-${runId}`);
    figures.targets = show.targets.length;
    expect(await svc.healExports()).toBe(0);
  });
});
