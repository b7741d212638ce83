import { connect, type Socket } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Value } from 'typebox/value';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ControllerConfigSchema, type ControllerConfig } from '../../shared/config/controller.js';
import { buildApp } from '../../controller/app.js';
import { migrate } from '../../controller/db/migrate.js';
import { openDb } from '../../controller/db/open.js';

/**
 * Slow clients time out without exhausting the server: 100 connections that either
 * dribble header bytes forever (slowloris) or send nothing are all cut by the server
 * (listen.headers_timeout_s, listen.idle_timeout_s; Node checks every 30 s at most),
 * while normal requests keep being answered promptly.
 */
let app: Awaited<ReturnType<typeof buildApp>>;
let port = 0;
let dir = '';

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'hs-slow-'));
  const config = Value.Default(ControllerConfigSchema, {
    data_dir: dir,
    listen: { headers_timeout_s: 2, idle_timeout_s: 3 },
  }) as ControllerConfig;
  const db = openDb(':memory:');
  migrate(db);
  app = await buildApp({ config, db, logger: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('slow clients', () => {
  it('are cut by the server while normal requests keep working', async () => {
    const sockets: Socket[] = [];
    const closedAt: number[] = [];
    const t0 = Date.now();
    const timers: NodeJS.Timeout[] = [];
    for (let i = 0; i < 100; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => {});
      s.on('close', () => closedAt.push(Date.now() - t0));
      if (i % 2 === 0) {
        s.write('GET /identity/v3 HTTP/1.1\r\nHost: x\r\n');
        timers.push(
          setInterval(() => {
            if (!s.destroyed) s.write('X');
          }, 500),
        );
      }
      sockets.push(s);
    }
    // Meanwhile the API answers.
    const latencies: number[] = [];
    for (let i = 0; i < 10; i++) {
      const a = Date.now();
      const r = await request(`http://127.0.0.1:${port}/identity/v3`);
      await r.body.text();
      expect(r.statusCode).toBe(200);
      latencies.push(Date.now() - a);
    }
    const until = Date.now() + 45_000;
    while (closedAt.length < sockets.length && Date.now() < until) await new Promise((r) => setTimeout(r, 250));
    for (const t of timers) clearInterval(t);
    for (const s of sockets) s.destroy();
    console.log(
      `[figures] slow clients: ${closedAt.length}/100 cut by the server, the last after ${Math.max(...closedAt)} ms; normal requests meanwhile: max ${Math.max(...latencies)} ms`,
    );
    expect(closedAt.length).toBe(100);
    expect(Math.max(...latencies)).toBeLessThan(2000);
  }, 60_000);
});
