import type { Runner } from '../../shared/exec/run.js';

/**
 * The one qemu-img call shared/tools/qemu-img.ts does not offer: reading a disk that
 * a running QEMU holds open. QEMU takes image locks, so a plain `qemu-img convert`
 * of an attached overlay fails ("Failed to get shared 'write' lock"); `-U`
 * (--force-share) reads anyway. It is only used on the instance's own overlay while
 * the guest is paused, which is what makes the copy consistent. The source is a file
 * this agent created (trusted), so no prlimit. Kept here, not in shared/tools, until
 * the images engineer's module grows a force-share option.
 */
export async function convertSharedCopy(run: Runner, src: string, dst: string, outFmt: 'qcow2' | 'raw'): Promise<void> {
  for (const p of [src, dst]) {
    if (!p.startsWith('/') || /[\0\n\r]/.test(p)) throw new Error(`bad image path: ${JSON.stringify(p)}`);
  }
  await run('qemu-img', ['convert', '-U', '-f', 'qcow2', '-O', outFmt, src, dst], { timeoutMs: 3_600_000 });
}
