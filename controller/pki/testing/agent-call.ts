import { Agent, request } from 'undici';
import { readAgentChannelTls } from '../controller-cert.js';

/**
 * Tests calling an agent directly, as the controller of `ctlDataDir` does: over mutual TLS
 * with the controller's client certificate when the URL is https:// (an agent enrolled
 * by this release), plain otherwise. The agent's name is not checked (tests dial
 * 127.0.0.1; the name check has its own test). Returns the status and the parsed JSON body.
 */
export async function agentCall(
  ctlDataDir: string,
  url: string,
  o: { method?: 'GET' | 'POST' | 'DELETE'; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: any }> {
  const tls = url.startsWith('https:') ? readAgentChannelTls(ctlDataDir) : null;
  if (url.startsWith('https:') && !tls) throw new Error(`no controller client certificate under ${ctlDataDir}/pki`);
  const dispatcher = tls
    ? new Agent({ connect: { ca: [tls.ca], cert: tls.cert, key: tls.key, checkServerIdentity: () => undefined } })
    : undefined;
  try {
    const r = await request(url, {
      method: o.method ?? 'GET',
      headers: o.headers ?? {},
      body: o.body,
      ...(dispatcher ? { dispatcher } : {}),
    });
    const text = await r.body.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : null;
    } catch {
      /* not JSON */
    }
    return { status: r.statusCode, body };
  } finally {
    await dispatcher?.close();
  }
}
