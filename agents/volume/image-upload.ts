import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { request, type Dispatcher } from 'undici';
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
  const hash = createHash('md5');
  const body = createReadStream(file).pipe(
    new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
    }),
  );
  const res = await request(t.uploadUrl, {
    method: 'PUT',
    headers: { 'x-auth-token': t.token, 'content-type': 'application/octet-stream', 'content-length': String(size) },
    body,
    dispatcher,
    headersTimeout: 600_000,
    bodyTimeout: 600_000,
  });
  const text = await res.body.text().catch(() => '');
  if (res.statusCode < 200 || res.statusCode >= 300)
    throw new Error(`the image API answered ${res.statusCode} ${text.slice(0, 200)}`);
  return hash.digest('hex');
}
