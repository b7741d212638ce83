import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { request, type Dispatcher } from 'undici';
import type { ImageSource } from '../../shared/agent/compute.js';
import { CloudError } from '../../shared/errors/index.js';

/** An image download that failed (500 ImageFetchFailed or ChecksumMismatch), as a CloudError. */
export class ImageFetchError extends CloudError {
  /** Never retryable: a volume stuck in `downloading` helps nobody; it goes to error with the reason. */
  readonly retryable = false;
  declare readonly code: 'ImageFetchFailed' | 'ChecksumMismatch';
  constructor(code: 'ImageFetchFailed' | 'ChecksumMismatch', message: string, _transient = false) {
    super(500, message, code, true);
    this.name = code;
  }
}

/**
 * Streams an image from the controller's image API (URL + service token given by the
 * controller) to a temporary file, checking the MD5 against Glance's checksum, hands
 * the file to `use`, and always removes it.
 */
export async function withImage<T>(
  dir: string,
  img: ImageSource,
  use: (path: string) => Promise<T>,
  o: { dispatcher?: Dispatcher; idleTimeoutMs?: number } = {},
): Promise<T> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const dest = join(dir, `image-${img.id}-${process.pid}-${Date.now()}.download`);
  try {
    let res: Dispatcher.ResponseData;
    try {
      res = await request(img.download_url, {
        method: 'GET',
        headers: { 'x-auth-token': img.token, accept: 'application/octet-stream' },
        dispatcher: o.dispatcher,
        headersTimeout: o.idleTimeoutMs ?? 60_000,
        bodyTimeout: o.idleTimeoutMs ?? 60_000,
      });
    } catch (e) {
      throw new ImageFetchError('ImageFetchFailed', `fetching image ${img.id}: ${(e as Error).message}`, true);
    }
    if (res.statusCode !== 200) {
      const body = (await res.body.text().catch(() => '')).slice(0, 200);
      throw new ImageFetchError(
        'ImageFetchFailed',
        `fetching image ${img.id}: the image API answered ${res.statusCode} ${body}`,
        res.statusCode >= 500,
      );
    }
    const hash = createHash('md5');
    const tap = new Transform({
      transform(chunk: Buffer, _e, cb) {
        hash.update(chunk);
        cb(null, chunk);
      },
    });
    try {
      await pipeline(res.body, tap, createWriteStream(dest, { mode: 0o600 }));
    } catch (e) {
      throw new ImageFetchError('ImageFetchFailed', `fetching image ${img.id}: ${(e as Error).message}`, true);
    }
    const md5 = hash.digest('hex');
    if (img.checksum && md5 !== img.checksum) {
      throw new ImageFetchError(
        'ChecksumMismatch',
        `image ${img.id}: downloaded data has MD5 ${md5}, the image API says ${img.checksum}`,
      );
    }
    return await use(dest);
  } finally {
    await rm(dest, { force: true });
  }
}
