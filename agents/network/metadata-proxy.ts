import { statSync } from 'node:fs';
import http from 'node:http';
import { request } from 'undici';
import type { MetadataInstance } from '../../shared/agent/network.js';
import {
  FORWARDED_FOR_HEADER,
  INSTANCE_ID_HEADER,
  SIGNATURE_HEADER,
  signInstanceId,
  TENANT_ID_HEADER,
} from '../../shared/metadata/signature.js';
import { listenInNetns, type NetnsListener } from '../../shared/exec/netns-listen.js';

/**
 * The metadata service as guests see it: http://169.254.169.254 in each network's DHCP
 * namespace and in each router's namespace (Neutron's DHCP and L3 agents' metadata
 * proxies + metadata agent in one). The listening socket lives in the namespace, so the
 * peer address of a connection is the guest's fixed address on that network (or on one
 * of the router's internal subnets, which never overlap); the proxy maps (namespace,
 * address) to the instance from the desired state and forwards the request to the
 * controller's metadata API with the instance id signed (Nova's X-Instance-ID-Signature:
 * HMAC-SHA256 under this host's credential, which the controller checks along with the
 * bearer). An address that is no instance of the namespace's networks gets 404 and the
 * controller is never asked.
 */

export const METADATA_IP = '169.254.169.254';
export const METADATA_PORT = 80;
/** The controller's metadata API (controller/metadata). */
export const METADATA_API_PATH = '/internal/v1/metadata';
/** The proxy key of a router's namespace (a DHCP namespace's is its network id). */
export const routerProxyKey = (routerId: string): string => `router:${routerId}`;
const MAX_BODY = 4096;

export interface MetadataProxyDeps {
  controllerUrl: string;
  /** This host's credential: the bearer and the signing key. */
  secret: string;
  log?: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
  /** Tests: where the listening socket comes from. */
  listen?: (ns: string, host: string, port: number) => Promise<NetnsListener>;
  timeoutMs?: number;
}

interface Proxy {
  ns: string;
  nsInode: number;
  http: http.Server;
  byIp: Map<string, MetadataInstance>;
}

const nsInodeOf = (ns: string): number => {
  try {
    return statSync(`/run/netns/${ns}`).ino;
  } catch {
    return -1;
  }
};

export class MetadataProxies {
  private readonly proxies = new Map<string, Proxy>();
  constructor(private readonly d: MetadataProxyDeps) {}

  /** The proxies' keys: network ids (DHCP namespaces) and routerProxyKey(id) (router namespaces). */
  keys(): string[] {
    return [...this.proxies.keys()].sort();
  }

  /** The instance the proxy `key` would serve to `ip` (null: 404). */
  instanceFor(key: string, ip: string): MetadataInstance | null {
    return this.proxies.get(key)?.byIp.get(ip) ?? null;
  }

  /**
   * A listener on 169.254.169.254:80 in `ns` serving `instances`. Idempotent; a
   * namespace made again since the last call gets a new listener. The address must
   * already be on an interface of the namespace.
   */
  async ensure(key: string, ns: string, instances: MetadataInstance[]): Promise<void> {
    const byIp = new Map(instances.map((i) => [i.ip_address, i]));
    const cur = this.proxies.get(key);
    if (cur && cur.ns === ns && cur.nsInode === nsInodeOf(ns) && cur.http.listening) {
      cur.byIp = byIp;
      return;
    }
    if (cur) await this.remove(key);
    const l = await (this.d.listen ?? listenInNetns)(ns, METADATA_IP, METADATA_PORT);
    const p: Proxy = { ns, nsInode: l.nsInode, http: http.createServer(), byIp };
    p.http.headersTimeout = 10_000;
    p.http.requestTimeout = 30_000;
    p.http.on('request', (req, res) => {
      this.handle(key, p, req, res).catch((err: Error) => {
        this.d.log?.warn({ proxy: key, err: err.message }, 'metadata request failed');
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end();
      });
    });
    await new Promise<void>((resolve, reject) => {
      p.http.once('error', reject);
      p.http.listen(l.server, () => resolve());
    });
    this.proxies.set(key, p);
    this.d.log?.info({ proxy: key, ns }, 'metadata proxy listening');
  }

  /** Closes the listener (before the namespace goes: the socket would keep it alive). Succeeds if absent. */
  async remove(key: string): Promise<void> {
    const p = this.proxies.get(key);
    if (!p) return;
    this.proxies.delete(key);
    p.http.closeAllConnections();
    await new Promise<void>((r) => p.http.close(() => r()));
  }

  async closeAll(): Promise<void> {
    for (const id of [...this.proxies.keys()]) await this.remove(id);
  }

  private async handle(key: string, p: Proxy, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const peer = (req.socket.remoteAddress ?? '').replace(/^::ffff:/, '');
    const inst = p.byIp.get(peer);
    const method = req.method ?? 'GET';
    if (!inst) {
      this.d.log?.warn(
        { proxy: key, peer, path: req.url },
        'metadata request from an address with no instance behind this proxy',
      );
      res.writeHead(404, { 'content-type': 'text/plain' }).end('404 Not Found\n');
      return;
    }
    if (method !== 'GET' && method !== 'HEAD' && method !== 'POST') {
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'GET, HEAD, POST' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const c of req) {
      size += (c as Buffer).length;
      if (size > MAX_BODY) {
        res.writeHead(413, { 'content-type': 'text/plain' }).end();
        return;
      }
      chunks.push(c as Buffer);
    }
    const t = this.d.timeoutMs ?? 20_000;
    const r = await request(`${this.d.controllerUrl.replace(/\/+$/, '')}${METADATA_API_PATH}${req.url ?? '/'}`, {
      method,
      headers: {
        authorization: `Bearer ${this.d.secret}`,
        [INSTANCE_ID_HEADER]: inst.instance_id,
        [TENANT_ID_HEADER]: inst.project_id,
        [SIGNATURE_HEADER]: signInstanceId(this.d.secret, inst.instance_id),
        [FORWARDED_FOR_HEADER]: peer,
        ...(method === 'POST' ? { 'content-type': req.headers['content-type'] ?? 'text/plain' } : {}),
      },
      body: method === 'POST' ? Buffer.concat(chunks) : undefined,
      headersTimeout: t,
      bodyTimeout: t,
    });
    const body = Buffer.from(await r.body.arrayBuffer());
    const type = r.headers['content-type'];
    res.writeHead(r.statusCode, {
      'content-type': typeof type === 'string' ? type : 'text/plain',
      'content-length': String(body.length),
    });
    res.end(method === 'HEAD' ? undefined : body);
  }
}
