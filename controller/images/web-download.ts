import { type ClientRequest, type IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { checkImportUri, type ImportFilter, isLocalAddress, type Resolver, systemResolver, UriRefused } from './import-filter.js';

/** A web-download that could not get the image; the message is for the user (task message). */
export class DownloadFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DownloadFailed';
  }
}

export interface WebDownloadOptions {
  filter: ImportFilter;
  /** Resolves host names, both for the check and for the connection (tests inject one). */
  resolve?: Resolver;
  maxRedirects: number;
  /** Until the response headers arrive. */
  connectTimeoutMs: number;
  /** Longest silence while the body streams. */
  idleTimeoutMs: number;
  signal?: AbortSignal;
}

export interface WebDownload {
  /** The response body; the caller reads or destroys it. */
  body: Readable;
  /** Content-Length, when the server sent one. */
  length: number | null;
  /** The URL that answered (after redirects). */
  url: string;
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * The socket's name lookup, checked: the address the connection is made to is the
 * address checked, so a name that resolved to a public address for the URL check and
 * resolves to 127.0.0.1 a moment later (DNS rebinding) is refused here.
 */
export function guardedLookup(resolve: Resolver, allowLocal: boolean): LookupFunction {
  return ((hostname: string, options: { all?: boolean }, callback: (...a: unknown[]) => void) => {
    resolve(hostname).then(
      (found) => {
        const local = allowLocal ? undefined : found.find((a) => isLocalAddress(a.address));
        if (local) {
          const e = Object.assign(new Error(`${hostname} resolves to a loopback or link-local address (${local.address})`), {
            code: 'ELOCALADDRESS',
          });
          return callback(e);
        }
        if (!found.length) return callback(Object.assign(new Error(`${hostname} does not resolve`), { code: 'ENOTFOUND' }));
        if (options?.all) return callback(null, found);
        return callback(null, found[0]!.address, found[0]!.family);
      },
      (e: Error) => callback(e),
    );
  }) as unknown as LookupFunction;
}

function get(url: URL, o: WebDownloadOptions, lookup: LookupFunction): Promise<{ req: ClientRequest; res: IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: 'GET',
      headers: { host: url.host, accept: '*/*', 'user-agent': 'homestack-image-import' },
      // No pooled connection: every request (each redirect) resolves and is checked anew.
      agent: false,
      lookup,
      signal: o.signal,
    });
    const timer = setTimeout(
      () => req.destroy(new DownloadFailed(`${url.host} did not answer within ${Math.round(o.connectTimeoutMs / 1000)} s`)),
      o.connectTimeoutMs,
    );
    req.once('response', (res) => {
      clearTimeout(timer);
      resolve({ req, res });
    });
    req.once('error', (e: Error & { code?: string }) => {
      clearTimeout(timer);
      if (e instanceof DownloadFailed || e.name === 'AbortError') return reject(e);
      if (e.code === 'ELOCALADDRESS') return reject(new UriRefused(url.href, e.message));
      reject(new DownloadFailed(`cannot get ${url.href}: ${e.message}`));
    });
    req.end();
  });
}

/**
 * Opens `uri` for a web-download import: checks it (checkImportUri), connects to a
 * checked address, follows up to `maxRedirects` redirects with the same checks on each
 * target (Glance's SafeRedirectHandler: "Redirect to disallowed URL"), and answers the
 * first 200 with its body. Rejects with UriRefused (the filter said no) or
 * DownloadFailed (any other reason), never leaving a connection open.
 */
export async function openWebDownload(uri: string, o: WebDownloadOptions): Promise<WebDownload> {
  const resolve = o.resolve ?? systemResolver;
  const lookup = guardedLookup(resolve, o.filter.allow_local_addresses);
  let current = uri;
  for (let hop = 0; ; hop++) {
    let url: URL;
    try {
      url = await checkImportUri(current, o.filter, resolve);
    } catch (e) {
      if (hop > 0 && e instanceof UriRefused) throw new UriRefused(uri, `redirect to disallowed URL ${current}: ${e.reason}`);
      throw e;
    }
    const { req, res } = await get(url, o, lookup).catch((e: unknown) => {
      if (hop > 0 && e instanceof UriRefused) throw new UriRefused(uri, `redirect to disallowed URL ${current}: ${e.reason}`);
      throw e;
    });
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (REDIRECTS.has(status) && location) {
      req.destroy();
      if (hop >= o.maxRedirects) throw new DownloadFailed(`too many redirects (more than ${o.maxRedirects}) from ${uri}`);
      try {
        current = new URL(location, url).href;
      } catch {
        throw new DownloadFailed(`${url.href} redirected to an invalid URL`);
      }
      continue;
    }
    if (status !== 200) {
      req.destroy();
      throw new DownloadFailed(`${url.href} answered HTTP ${status}${res.statusMessage ? ` ${res.statusMessage}` : ''}`);
    }
    const cl = res.headers['content-length'];
    const length = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : null;
    const idle = Math.round(o.idleTimeoutMs / 1000);
    res.setTimeout(o.idleTimeoutMs, () => res.destroy(new DownloadFailed(`no data from ${url.host} for ${idle} s`)));
    return { body: res, length, url: url.href };
  }
}
