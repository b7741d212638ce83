import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dispatcher } from 'undici';
import { putImageFile } from '../host/image-put.js';
import { qemuFormatOf } from '../../shared/tools/qemu-img.js';
import { BackendError, type VolumeBackend } from './backend.js';

export interface UploadTarget {
  volumeId: string;
  imageId: string;
  uploadUrl: string;
  token: string;
  diskFormat: string;
}

/**
 * os-volume_upload_image on the host (Cinder's copy_volume_to_image: convert, then upload
 * to Glance): the back end writes the volume as disk_format into a file in workDir, which
 * is streamed by PUT to the image API with the service token; the file is removed whatever
 * happens. Returns the bytes sent and their MD5.
 */
export async function uploadVolumeToImage(
  backend: VolumeBackend,
  workDir: string,
  t: UploadTarget,
  o: { dispatcher?: Dispatcher } = {},
): Promise<{ size: number; checksum: string }> {
  const fmt = qemuFormatOf(t.diskFormat);
  if (!fmt) throw new BackendError('BadRequest', `disk_format ${t.diskFormat} cannot be written from a volume`);
  await mkdir(workDir, { recursive: true });
  const tmp = join(workDir, `.upload-${t.imageId}.${t.diskFormat}`);
  try {
    await backend.copyOut(t.volumeId, tmp, fmt);
    const size = (await stat(tmp)).size;
    return { size, checksum: await put(tmp, size, t, o.dispatcher) };
  } catch (e) {
    if (e instanceof BackendError) throw e;
    throw new BackendError('BackendError', `upload of volume ${t.volumeId} to image ${t.imageId}: ${(e as Error).message}`, e);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function put(file: string, size: number, t: UploadTarget, dispatcher?: Dispatcher): Promise<string> {
  const r = await putImageFile(file, size, t, dispatcher);
  if (r.status < 200 || r.status >= 300) throw new Error(`the image API answered ${r.status} ${r.text.slice(0, 200)}`);
  return r.md5;
}
