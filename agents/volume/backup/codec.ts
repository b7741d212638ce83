import { compress as zstdCompress, decompress as zstdDecompress } from '@mongodb-js/zstd';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';

/**
 * Chunk compression. Both run on libuv's thread pool (zstd through the napi-rs addon,
 * gzip through zlib), so the agent's event loop keeps answering while a backup runs and
 * two chunks compress at once on two cores.
 *
 * Chosen by measurement (README, agents/volume/backup): on 4 MiB chunks of mixed data,
 * zstd level 3 compresses at ~257 MB/s to 25 %, gzip level 6 at ~24 MB/s to 32 %
 * (level 1: 80 MB/s, 37 %). zstd is the default; gzip stays for stores read by tools
 * that only know it. A chunk that does not shrink is stored as is ('none'), as Cinder does.
 */
export type Compression = 'zstd' | 'gzip' | 'none';

const gz = promisify(gzip);
const gunz = promisify(gunzip);

export async function compressChunk(
  algo: Compression,
  level: number,
  data: Buffer,
): Promise<{ algo: Compression; data: Buffer }> {
  if (algo === 'none') return { algo, data };
  const out =
    algo === 'zstd'
      ? await zstdCompress(data, Math.min(Math.max(level, 1), 19))
      : await gz(data, { level: Math.min(Math.max(level, 1), 9) });
  return out.length < data.length ? { algo, data: out } : { algo: 'none', data };
}

export async function decompressChunk(algo: string, data: Buffer): Promise<Buffer> {
  if (algo === 'none') return data;
  if (algo === 'zstd') return zstdDecompress(data);
  if (algo === 'gzip' || algo === 'zlib') return gunz(data);
  throw new Error(`unknown compression ${algo}`);
}
