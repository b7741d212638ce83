import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ImportFilter, Resolver } from './import-filter.js';
import { UriRefused } from './import-filter.js';
import { DownloadFailed, openWebDownload } from './web-download.js';

/** This machine's first non-loopback IPv4 address: a "LAN" host for the tests (never a local address). */
const lanIp = (() => {
  for (const list of Object.values(networkInterfaces()))
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  return null;
})();

const FILTER: ImportFilter = {
  allowed_schemes: ['http', 'https'],
  disallowed_schemes: [],
  allowed_hosts: [],
  disallowed_hosts: [],
  allowed_ports: [],
  disallowed_ports: [],
  allow_local_addresses: false,
};

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

async function serve(host: string, h: Handler): Promise<{ server: Server; port: number; hits: string[] }> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(req.url ?? '');
    h(req, res);
  });
  await new Promise<void>((r) => server.listen(0, host, r));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

const read = async (s: AsyncIterable<Buffer>) => {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c);
  return Buffer.concat(parts).toString();
};

describe.skipIf(!lanIp)(`web-download fetches (host address ${lanIp ?? 'none: skipped, no non-loopback IPv4'})`, () => {
  let lan: Awaited<ReturnType<typeof serve>>;
  let loop: Awaited<ReturnType<typeof serve>>;
  const opts = (f: Partial<ImportFilter> = {}, resolve?: Resolver) => ({
    filter: { ...FILTER, ...f },
    maxRedirects: 3,
    connectTimeoutMs: 2000,
    idleTimeoutMs: 500,
    ...(resolve ? { resolve } : {}),
  });

  beforeAll(async () => {
    loop = await serve('127.0.0.1', (_req, res) => res.end('SECRET FROM LOOPBACK'));
    lan = await serve(lanIp!, (req, res) => {
      const u = req.url ?? '/';
      if (u === '/image') return res.writeHead(200, { 'content-length': 5 }).end('hello');
      if (u === '/chunked') {
        res.writeHead(200);
        res.write('abc');
        return void setTimeout(() => res.end('def'), 20);
      }
      if (u === '/hop') return res.writeHead(302, { location: '/image' }).end();
      if (u === '/to-loopback') return res.writeHead(301, { location: `http://127.0.0.1:${loop.port}/` }).end();
      if (u === '/to-metadata') return res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/' }).end();
      if (u === '/to-encoded') return res.writeHead(302, { location: `http://2130706433:${loop.port}/` }).end();
      if (u === '/loop') return res.writeHead(302, { location: '/loop' }).end();
      if (u === '/missing') return res.writeHead(404).end('no');
      if (u === '/stall') {
        res.writeHead(200, { 'content-length': 10 });
        return void res.write('12345'); // and nothing more
      }
      res.writeHead(500).end();
    });
  });
  afterAll(() => {
    lan.server.closeAllConnections();
    loop.server.closeAllConnections();
    lan.server.close();
    loop.server.close();
  });

  it('downloads from a host on the LAN with its length, and follows a relative redirect', async () => {
    const a = await openWebDownload(`http://${lanIp}:${lan.port}/image`, opts());
    expect(a.length).toBe(5);
    expect(await read(a.body)).toBe('hello');
    const b = await openWebDownload(`http://${lanIp}:${lan.port}/hop`, opts());
    expect(b.url).toBe(`http://${lanIp}:${lan.port}/image`);
    expect(await read(b.body)).toBe('hello');
    const c = await openWebDownload(`http://${lanIp}:${lan.port}/chunked`, opts());
    expect(c.length).toBeNull();
    expect(await read(c.body)).toBe('abcdef');
  });

  it('refuses a redirect to loopback, to the metadata address or to an encoded address, without fetching it', async () => {
    const before = loop.hits.length;
    for (const path of ['/to-loopback', '/to-metadata', '/to-encoded']) {
      const e = await openWebDownload(`http://${lanIp}:${lan.port}${path}`, opts()).catch((x) => x);
      expect(e, path).toBeInstanceOf(UriRefused);
      expect((e as UriRefused).reason, path).toMatch(/redirect to disallowed URL/);
    }
    expect(loop.hits.length).toBe(before);
  });

  it('refuses a name that resolves to loopback when connecting (DNS rebinding after the check)', async () => {
    let calls = 0;
    // First answer (the URL check): the LAN host; every later one (the connection): loopback.
    const rebinding: Resolver = async () => [{ address: calls++ === 0 ? lanIp! : '127.0.0.1', family: 4 }];
    const before = loop.hits.length;
    const e = await openWebDownload(`http://flaky.example.org:${loop.port}/`, opts({}, rebinding)).catch((x) => x);
    expect(e).toBeInstanceOf(UriRefused);
    expect(String((e as Error).message)).toMatch(/resolves to a loopback or link-local address \(127.0.0.1\)/);
    expect(calls).toBe(2);
    expect(loop.hits.length).toBe(before);
  });

  it('reaches loopback only where the operator allows local addresses', async () => {
    const e = await openWebDownload(`http://127.0.0.1:${loop.port}/`, opts()).catch((x) => x);
    expect(e).toBeInstanceOf(UriRefused);
    const ok = await openWebDownload(`http://127.0.0.1:${loop.port}/`, opts({ allow_local_addresses: true }));
    expect(await read(ok.body)).toBe('SECRET FROM LOOPBACK');
  });

  it('fails with a reason on redirect loops, HTTP errors, silence and unreachable hosts', async () => {
    await expect(openWebDownload(`http://${lanIp}:${lan.port}/loop`, opts())).rejects.toThrow(
      /too many redirects \(more than 3\)/,
    );
    await expect(openWebDownload(`http://${lanIp}:${lan.port}/missing`, opts())).rejects.toThrow(/answered HTTP 404/);
    const stall = await openWebDownload(`http://${lanIp}:${lan.port}/stall`, opts());
    await expect(read(stall.body)).rejects.toThrow(/no data from .* for 1 s/);
    const closed = await serve(lanIp!, () => {});
    const port = closed.port;
    closed.server.close();
    const e = await openWebDownload(`http://${lanIp}:${port}/`, opts()).catch((x) => x);
    expect(e).toBeInstanceOf(DownloadFailed);
    expect(String(e.message)).toMatch(/ECONNREFUSED/);
  });
});
