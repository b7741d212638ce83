import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { request, type Dispatcher } from 'undici';

/** Where a host uploads image data: Glance's PUT /v2/images/{id}/file, with a token. */
export interface ImagePutTarget {
  uploadUrl: string;
  token: string;
}

/**
 * Streams a file of `size` bytes by PUT to the image API, hashing it as it passes (MD5, the
 * image's checksum). Network errors throw; the answer is returned for the caller to judge
 * (a snapshot and a volume upload report failures in their own error kinds).
 */
export async function putImageFile(
  file: string,
  size: number,
  t: ImagePutTarget,
  dispatcher?: Dispatcher,
): Promise<{ status: number; text: string; md5: string }> {
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
  return { status: res.statusCode, text, md5: hash.digest('hex') };
}
