import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { BackupTargetError, type BackupTarget } from './target.js';

export interface S3TargetOptions {
  endpoint: string;
  region: string;
  bucket: string;
  accessKey: string;
  secretKey: string;
  forcePathStyle: boolean;
  timeoutMs: number;
}

const BUCKET_RE = /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/** Maps an SDK or socket error to the store's codes. */
export function s3Error(e: unknown, what: string): BackupTargetError {
  if (e instanceof BackupTargetError) return e;
  const err = e as Error & { code?: string; name?: string; $metadata?: { httpStatusCode?: number } };
  const status = err.$metadata?.httpStatusCode;
  const name = err.name ?? '';
  if (name === 'NoSuchKey' || name === 'NotFound' || status === 404)
    return new BackupTargetError('ObjectNotFound', `${what}: not found`, e);
  if (name === 'EntityTooLarge' || name === 'QuotaExceeded' || status === 507 || /quota|insufficient storage/i.test(err.message))
    return new BackupTargetError('TargetFull', `${what}: the backup target is full (${name || status})`, e);
  const net = ['ECONNREFUSED', 'ECONNRESET', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE'];
  if (
    net.includes(err.code ?? '') ||
    name === 'TimeoutError' ||
    name === 'RequestTimeout' ||
    /timed? ?out|socket hang up|ECONNREFUSED|ECONNRESET/i.test(err.message ?? '') ||
    (status !== undefined && status >= 500)
  )
    return new BackupTargetError(
      'TargetUnreachable',
      `${what}: the backup target did not answer (${err.code ?? name}: ${err.message})`,
      e,
    );
  if (e instanceof S3ServiceException)
    return new BackupTargetError('TargetError', `${what}: ${name} (HTTP ${status ?? '?'}): ${err.message}`, e);
  return new BackupTargetError('TargetError', `${what}: ${err.message}`, e);
}

/**
 * Backups in an S3 bucket through the AWS SDK v3 S3 client (Cinder's s3 driver: the
 * container is the bucket, `backup_s3_store_bucket` by default, created when missing;
 * objects under the backup's prefix). Works with MinIO, Garage, Ceph RGW and Swift's
 * s3api: path-style addressing by default, and checksums only where the operation
 * requires them (the SDK's newer default headers are refused by older servers).
 * A PUT is atomic in S3: an object is either whole or absent.
 */
export class S3Target implements BackupTarget {
  readonly kind = 's3' as const;
  readonly id: string;
  private readonly client: S3Client;
  private readonly made = new Set<string>();

  constructor(private readonly o: S3TargetOptions) {
    const u = new URL(o.endpoint);
    this.id = `s3:${u.host}${u.pathname.replace(/\/+$/, '')}/${o.bucket}`;
    this.client = new S3Client({
      endpoint: o.endpoint,
      region: o.region,
      forcePathStyle: o.forcePathStyle,
      credentials: { accessKeyId: o.accessKey, secretAccessKey: o.secretKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: 3,
      requestHandler: { requestTimeout: o.timeoutMs, connectionTimeout: Math.min(o.timeoutMs, 10_000) },
    });
  }

  async init(): Promise<void> {
    await this.putContainer(this.o.bucket);
  }

  defaultContainer(): string {
    return this.o.bucket;
  }

  checkContainer(container: string): void {
    if (!BUCKET_RE.test(container) || container.includes('..'))
      throw new BackupTargetError('BadContainer', `container ${JSON.stringify(container)} is not a valid S3 bucket name`);
  }

  async putContainer(container: string): Promise<void> {
    this.checkContainer(container);
    if (this.made.has(container)) return;
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: container }));
    } catch (e) {
      const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status !== 404) throw s3Error(e, `bucket ${container}`);
      try {
        await this.client.send(new CreateBucketCommand({ Bucket: container }));
      } catch (e2) {
        const n = (e2 as Error).name;
        if (n !== 'BucketAlreadyOwnedByYou' && n !== 'BucketAlreadyExists') throw s3Error(e2, `create bucket ${container}`);
      }
    }
    this.made.add(container);
  }

  async put(container: string, name: string, data: Buffer, _o?: { deferSync?: boolean }): Promise<void> {
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: container,
          Key: name,
          Body: data,
          ContentLength: data.length,
          // Integrity on the wire: the server checks the MD5 (Cinder's s3 driver does too).
          ContentMD5: createHash('md5').update(data).digest('base64'),
        }),
      );
    } catch (e) {
      throw s3Error(e, `put ${container}/${name}`);
    }
  }

  /** A PUT is durable once answered: nothing to do. */
  async flush(_container: string, _names: readonly string[]): Promise<void> {}

  async get(container: string, name: string): Promise<Buffer> {
    try {
      const r = await this.client.send(new GetObjectCommand({ Bucket: container, Key: name }));
      return Buffer.from(await r.Body!.transformToByteArray());
    } catch (e) {
      throw s3Error(e, `get ${container}/${name}`);
    }
  }

  async list(container: string, prefix: string): Promise<string[]> {
    const out: string[] = [];
    let token: string | undefined;
    try {
      do {
        const r = await this.client.send(
          new ListObjectsV2Command({ Bucket: container, Prefix: prefix, ContinuationToken: token }),
        );
        for (const c of r.Contents ?? []) if (c.Key) out.push(c.Key);
        token = r.IsTruncated ? r.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      const err = s3Error(e, `list ${container}`);
      if (err.code === 'ObjectNotFound') return [];
      throw err;
    }
    return out;
  }

  async delete(container: string, name: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: container, Key: name }));
    } catch (e) {
      const err = s3Error(e, `delete ${container}/${name}`);
      if (err.code !== 'ObjectNotFound') throw err;
    }
  }

  async deletePartial(): Promise<number> {
    return 0; // a PUT is atomic: nothing half-written to remove
  }

  async freeBytes(): Promise<number | null> {
    return null;
  }

  destroy(): void {
    this.client.destroy();
  }
}
