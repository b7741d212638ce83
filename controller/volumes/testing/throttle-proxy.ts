import { createConnection, createServer, type Server, type Socket } from 'node:net';

/**
 * A slow network path for the backup fault tests: a TCP proxy on loopback that forwards
 * to `target` and lets at most `bytesPerSecond` through in each direction (summed over
 * its connections, in 100 ms slices), as a NAS behind a congested or long link would.
 * `bytes` counts what went from clients to the target (uploads).
 */
export class ThrottleProxy {
  port = 0;
  bytes = 0;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  private readonly budget = { up: 0, down: 0 };
  private timer: NodeJS.Timeout | null = null;
  private readonly waiting: Array<() => void> = [];

  constructor(
    private readonly target: { host: string; port: number },
    private readonly bytesPerSecond: number,
  ) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.timer = setInterval(() => {
      const slice = this.bytesPerSecond / 10;
      this.budget.up = slice;
      this.budget.down = slice;
      for (const w of this.waiting.splice(0)) w();
    }, 100);
    this.server = createServer((client) => {
      const upstream = createConnection(this.target);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      this.pipe(client, upstream, 'up');
      this.pipe(upstream, client, 'down');
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** Copies `from` to `to`, each chunk waiting for this direction's budget. */
  private pipe(from: Socket, to: Socket, dir: 'up' | 'down'): void {
    from.on('data', (chunk: Buffer) => {
      from.pause();
      void this.send(chunk, to, dir).then(() => from.resume());
    });
    from.on('end', () => to.end());
  }

  private async send(chunk: Buffer, to: Socket, dir: 'up' | 'down'): Promise<void> {
    let rest = chunk;
    while (rest.length) {
      if (this.budget[dir] <= 0) {
        await new Promise<void>((r) => this.waiting.push(r));
        continue;
      }
      const n = Math.min(rest.length, Math.max(1, Math.floor(this.budget[dir])));
      this.budget[dir] -= n;
      if (dir === 'up') this.bytes += n;
      if (to.destroyed) return;
      to.write(rest.subarray(0, n));
      rest = rest.subarray(n);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const w of this.waiting.splice(0)) w();
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
