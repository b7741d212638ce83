import type { ServerResponse } from 'node:http';
import type { BlockReader } from './store.js';

/**
 * The download data path: bytes [start, end] of `reader` onto `res` through two reused
 * buffers, one being read from the file while the other is written to the socket. A
 * fs.ReadStream allocates a fresh buffer per read instead, and that garbage (1 GiB per
 * GiB served) made V8 run a full collection every few tens of MB: a third of the CPU of
 * a download, and most of its resident memory.
 */

/** Per buffer; the kernel takes a 2 MiB write in a few socket-buffer-sized pieces. */
export const SEND_BLOCK = 2 << 20;

/** Resolves once the socket has taken `chunk` (then the buffer may be reused). */
function write(res: ServerResponse, chunk: Buffer, closed: Promise<never>): Promise<void> {
  const done = new Promise<void>((resolve, reject) => {
    res.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
  const p = Promise.race([done, closed]);
  // Either may fail while the loop awaits something else; it sees the failure when it
  // awaits this write, and an unobserved rejection must not take the process down.
  done.catch(() => {});
  p.catch(() => {});
  return p;
}

/**
 * Writes the bytes and ends the response. Rejects when the client goes away or the
 * file ends early; the caller then destroys the response (the client sees a short body).
 */
export async function sendBlocks(
  res: ServerResponse,
  reader: BlockReader,
  start: number,
  end: number,
  block = SEND_BLOCK,
): Promise<void> {
  const total = end - start + 1;
  const bufs = [
    Buffer.allocUnsafeSlow(Math.min(block, total)),
    Buffer.allocUnsafeSlow(Math.min(block, Math.max(total - block, 1))),
  ];
  const writes: Array<Promise<void> | null> = [null, null];
  let onClose: () => void = () => {};
  const closed = new Promise<never>((_, reject) => {
    onClose = () => reject(Object.assign(new Error('the client closed the connection'), { code: 'ECONNRESET' }));
  });
  closed.catch(() => {});
  res.once('close', onClose);
  try {
    let pos = start;
    for (let i = 0; pos <= end; i ^= 1) {
      await writes[i];
      const buf = bufs[i]!;
      const n = await reader.read(buf, Math.min(buf.length, end - pos + 1), pos);
      if (n === 0) throw new Error(`image data ended at byte ${pos}, expected ${end + 1}`);
      pos += n;
      writes[i] = write(res, buf.subarray(0, n), closed);
    }
    await Promise.all(writes);
    await new Promise<void>((resolve, reject) => {
      res.end(() => resolve());
      closed.catch(reject);
    });
  } finally {
    res.off('close', onClose);
  }
}
