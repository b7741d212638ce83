import { randomBytes } from 'node:crypto';
import { createServer, get, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { sendBlocks } from './send.js';
import type { BlockReader } from './store.js';

const reader = (data: Buffer, o: { delayMs?: number } = {}): BlockReader & { closed: boolean } => ({
  size: data.length,
  closed: false,
  read: async (buf, length, position) => {
    if (o.delayMs) await new Promise((r) => setTimeout(r, o.delayMs));
    return data.copy(buf, 0, position, Math.min(position + length, data.length));
  },
  close: async function () {
    this.closed = true;
  },
});

let server: Server | null = null;
afterEach(() => void server?.close());

/** Serves `handler` on a free port and GETs it; resolves with the body bytes and the handler's outcome. */
async function serve(handler: Parameters<typeof createServer>[1]): Promise<number> {
  server = createServer(handler);
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server.address() as { port: number }).port;
}
const fetchAll = (port: number) =>
  new Promise<Buffer>((resolve, reject) =>
    get({ host: '127.0.0.1', port, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve(Buffer.concat(parts)));
      res.on('error', reject);
    }).on('error', reject),
  );

describe('sendBlocks', () => {
  it('sends the whole file and a range through two small alternating buffers', async () => {
    const data = randomBytes(1 << 20);
    for (const [start, end] of [
      [0, data.length - 1],
      [1000, 300_000],
      [data.length - 1, data.length - 1],
    ] as const) {
      let outcome: Promise<void> = Promise.resolve();
      const port = await serve((_req, res) => {
        res.writeHead(200, { 'content-length': String(end - start + 1) });
        outcome = sendBlocks(res, reader(data, { delayMs: 1 }), start, end, 64 * 1024);
      });
      const body = await fetchAll(port);
      await outcome;
      expect(body.equals(data.subarray(start, end + 1))).toBe(true);
      server!.close();
    }
  });

  it('rejects when the file ends early', async () => {
    const data = randomBytes(100_000);
    let failure: Promise<Error | null> = Promise.resolve(null);
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '200000' });
      failure = sendBlocks(res, reader(data), 0, 199_999, 32 * 1024).then(
        () => null,
        (e: Error) => {
          res.destroy(); // what the route does: the client sees a short body
          return e;
        },
      );
    });
    await expect(fetchAll(port)).rejects.toThrow();
    expect((await failure)?.message).toMatch(/ended at byte 100000, expected 200000/);
  });

  it('rejects, without waiting forever, when the client goes away mid-way', async () => {
    const data = randomBytes(64 << 20);
    let failure: Promise<Error | null> = Promise.resolve(null);
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': String(data.length) });
      failure = sendBlocks(res, reader(data), 0, data.length - 1, 1 << 20).then(
        () => null,
        (e: Error) => e,
      );
    });
    await new Promise<void>((resolve) => {
      get({ host: '127.0.0.1', port, agent: false }, (res) => {
        res.once('data', () => {
          res.destroy();
          resolve();
        });
      });
    });
    expect(await failure).toBeInstanceOf(Error);
  });
});
