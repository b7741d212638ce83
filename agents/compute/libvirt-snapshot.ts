import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { putImageFile } from '../host/image-put.js';
import { HypervisorFault, stepFailed } from './errors.js';
import type { SnapshotResult, SnapshotTarget } from './driver.js';
import { factsOf, mustLookup, paths, virState, type LibvirtCtx } from './libvirt-ctx.js';
import { VIR } from './libvirt-state.js';
import { convertSharedCopy } from './qemu-img-local.js';

/**
 * createImage: a consistent copy of the root disk. There is no guest agent (so no
 * domfsfreeze); the guest is paused while qemu-img copies its overlay (the writes it
 * had issued are flushed to the file by QEMU before the pause completes), then it
 * continues; the copy is then streamed by PUT to the image API. The guest is always
 * resumed, whatever failed.
 */
export async function snapshot(c: LibvirtCtx, uuid: string, t: SnapshotTarget, dispatcher?: Dispatcher): Promise<SnapshotResult> {
  const dom = await mustLookup(c, uuid);
  const facts = await factsOf(dom);
  const p = paths(c, uuid);
  const root = facts.fileDisks.find((d) => d.device === 'disk' && d.path === p.root);
  if (!root)
    throw new HypervisorFault(
      'SnapshotFailed',
      `instance ${uuid} has no local root disk (boot from volume: snapshot the volume instead)`,
    );
  const tmp = join(p.dir, `.snapshot-${t.imageId}.${t.diskFormat}`);
  let pausedMs = 0;
  try {
    const s = await virState(dom);
    const pauseIt = s === VIR.RUNNING || s === VIR.BLOCKED;
    const t0 = performance.now();
    if (pauseIt) await dom.suspend();
    try {
      await convertSharedCopy(c.run, root.path, tmp, t.diskFormat);
    } finally {
      if (pauseIt)
        await dom.resume().catch((e: unknown) => c.log.warn({ uuid, err: String(e) }, 'resume after snapshot copy failed'));
      pausedMs = pauseIt ? Math.round(performance.now() - t0) : 0;
    }
    const size = (await stat(tmp)).size;
    const checksum = await upload(tmp, size, t, dispatcher);
    return { size, checksum, pausedMs };
  } catch (e) {
    throw stepFailed('SnapshotFailed', `snapshot of ${uuid}`, e);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function upload(file: string, size: number, t: SnapshotTarget, dispatcher?: Dispatcher): Promise<string> {
  let r: Awaited<ReturnType<typeof putImageFile>>;
  try {
    r = await putImageFile(file, size, t, dispatcher);
  } catch (e) {
    throw new HypervisorFault('SnapshotFailed', `uploading to the image API: ${(e as Error).message}`, true, e);
  }
  if (r.status < 200 || r.status >= 300)
    throw new HypervisorFault(
      'SnapshotFailed',
      `uploading to the image API: ${r.status} ${r.text.slice(0, 200)}`,
      r.status >= 500,
    );
  return r.md5;
}
