import { execFileSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeRunner } from '../../shared/exec/run.js';
import { tgtadm } from '../../shared/tools/tgtadm.js';
import { FileBackend } from './file.js';
import { TgtTarget } from './tgt.js';

/**
 * The connection info the volume agent hands out is enough for libvirt: a TCG domain
 * (no guest OS) gets a network disk hot-plugged from the tgt export, QEMU's own iSCSI
 * initiator logging in with CHAP from a libvirt secret. QEMU presents itself as
 * iqn.2008-11.org.linux-kvm:<uuid>, not as the host's IQN, which is why the target's
 * ACL also carries the compute host's address.
 */
const run = makeRunner();
const URI = 'qemu:///system';
function unavailable(): string {
  if (process.env.SYSTEM_TESTS !== '1') return 'SYSTEM_TESTS=1 is not set';
  if (process.getuid?.() !== 0) return 'not root';
  try {
    execFileSync('sh', ['-c', 'pgrep -x tgtd'], { stdio: 'ignore' });
  } catch {
    return 'tgtd is not running';
  }
  try {
    execFileSync('virsh', ['-c', URI, 'version'], { stdio: 'ignore', timeout: 10_000 });
  } catch {
    return 'libvirtd is not reachable';
  }
  return '';
}
const why = unavailable();
if (why) console.log(`[skip] volume hot-plug system test: ${why}`);

describe.skipIf(!!why)('libvirt hot-plugs a tgt export with CHAP', () => {
  const runId = `t${randomBytes(3).toString('hex')}`;
  const prefix = `iqn.2026-11.org.homestack.${runId}`;
  const vol = randomUUID();
  const secretUuid = randomUUID();
  let dir: string;
  let backend: FileBackend;
  let target: TgtTarget;
  const virsh = (...a: string[]) => run('virsh', ['-c', URI, ...a], { timeoutMs: 60_000 });

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), `${runId}-`));
    backend = new FileBackend({ dir: join(dir, 'volumes'), run });
    await backend.init();
    target = new TgtTarget({ run, iqnPrefix: prefix, portalIp: '127.0.0.1' });
  });
  afterAll(async () => {
    await virsh('destroy', runId).catch(() => {});
    await virsh('secret-undefine', secretUuid).catch(() => {});
    await target.removeExport(vol).catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });

  it('attach-device of the network disk logs in (I_T nexus) and the domain lists vdb', async () => {
    const { devicePath } = await backend.create({ id: vol, sizeGb: 1 });
    await target.ensureExport(vol, devicePath);
    const auth = { username: `hs-${runId}`, password: randomBytes(16).toString('hex') };
    const c = await target.initializeConnection(
      vol,
      { initiator: `iqn.2005-03.org.homestack:${runId}`, address: '127.0.0.1' },
      auth,
    );
    const usage = `${runId}-chap`;
    writeFileSync(
      join(dir, 'secret.xml'),
      `<secret ephemeral='no' private='yes'><uuid>${secretUuid}</uuid><usage type='iscsi'><target>${usage}</target></usage></secret>`,
    );
    await virsh('secret-define', join(dir, 'secret.xml'));
    writeFileSync(join(dir, 'pw'), auth.password, { mode: 0o600 });
    await virsh('secret-set-value', secretUuid, '--file', join(dir, 'pw'), '--plain');
    writeFileSync(
      join(dir, 'dom.xml'),
      `<domain type='qemu'><name>${runId}</name><memory unit='MiB'>64</memory><vcpu>1</vcpu><os><type arch='x86_64' machine='pc'>hvm</type></os><features><acpi/></features><devices><emulator>/usr/bin/qemu-system-x86_64</emulator></devices></domain>`,
    );
    await virsh('create', join(dir, 'dom.xml'));
    const [host, port] = c.data.target_portal.split(':');
    writeFileSync(
      join(dir, 'disk.xml'),
      `<disk type='network' device='disk'><driver name='qemu' type='raw' cache='none'/><source protocol='iscsi' name='${c.data.target_iqn}/${c.data.target_lun}'><host name='${host}' port='${port}'/><auth username='${c.data.auth_username}'><secret type='iscsi' usage='${usage}'/></auth></source><target dev='vdb' bus='virtio'/><serial>${vol.slice(0, 20)}</serial></disk>`,
    );
    const t0 = performance.now();
    await virsh('attach-device', runId, join(dir, 'disk.xml'), '--live');
    console.log(
      `[figures] libvirt attach-device of the iSCSI disk (login + CHAP + virtio hot-plug): ${(performance.now() - t0).toFixed(0)} ms`,
    );
    expect((await virsh('domblklist', runId)).stdout).toContain(`vdb      ${c.data.target_iqn}/1`);
    const show = await tgtadm(run).show();
    const t = show.targets.find((x) => x.iqn === c.data.target_iqn)!;
    expect(t.sessions).toBe(1);
  });
});
