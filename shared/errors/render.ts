import { STATUS_CODES } from 'node:http';

/** The error document shapes of the OpenStack services (house style 3.4). */
export type ErrorStyle = 'keystone' | 'nova' | 'neutron' | 'glance' | 'agent';

export interface RenderableError {
  status: number;
  message: string;
  /** Neutron's `type`, the agent's `code`. */
  code: string;
}

const NOVA_KEYS: Record<number, string> = {
  400: 'badRequest',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'itemNotFound',
  405: 'badMethod',
  409: 'conflictingRequest',
  413: 'overLimit',
  415: 'badMediaType',
  429: 'overLimit',
  501: 'notImplemented',
  503: 'serviceUnavailable',
};

function title(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

/** Builds the body for `e` in the given service's shape. */
export function renderError(style: ErrorStyle, e: RenderableError): unknown {
  switch (style) {
    case 'keystone':
      return { error: { code: e.status, message: e.message, title: title(e.status) } };
    case 'nova': {
      const key = NOVA_KEYS[e.status] ?? 'computeFault';
      return { [key]: { code: e.status, message: e.message } };
    }
    case 'neutron':
      return { NeutronError: { type: e.code, message: e.message, detail: '' } };
    case 'glance':
      return { message: e.message, code: `${e.status} ${title(e.status)}`, title: title(e.status) };
    case 'agent':
      return { error: { code: e.code, message: e.message, retryable: e.status >= 500 } };
  }
}

/**
 * Glance answers errors as webob renders its HTTP exceptions: the representation is
 * negotiated from the Accept header between text/html and application/json (the first
 * wins a tie, so `* / *` gets HTML), and with no Accept header at all, or nothing
 * acceptable, it is text/plain. glanceclient sends no Accept and cannot read a JSON
 * error body (it expects nested objects); Tempest and openstacksdk ask for JSON.
 * Checked against WebOb 1.8 (Debian's python3-webob): see render.test.ts.
 */
export function glanceErrorRepresentation(accept: string | undefined, e: RenderableError): { contentType: string; body: string } {
  const code = `${e.status} ${title(e.status)}`;
  const kind = negotiate(accept, ['text/html', 'application/json']);
  if (kind === 'application/json') return { contentType: 'application/json', body: JSON.stringify(renderError('glance', e)) };
  if (kind === 'text/html') {
    const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
    return {
      contentType: 'text/html; charset=UTF-8',
      body: `<html>\n <head>\n  <title>${code}</title>\n </head>\n <body>\n  <h1>${code}</h1>\n  ${esc(e.message)}<br /><br />\n\n\n\n </body>\n</html>`,
    };
  }
  return { contentType: 'text/plain; charset=UTF-8', body: `${code}\n\n${e.message}\n\n   ` };
}

/** The offer an Accept header prefers (highest q; the first offer on a tie), or null. */
export function negotiate(accept: string | undefined, offers: readonly string[]): string | null {
  if (accept === undefined || !accept.trim()) return null;
  const ranges = accept.split(',').flatMap((part) => {
    const [range, ...params] = part.trim().split(';');
    const [type, sub] = (range ?? '').trim().toLowerCase().split('/');
    if (!type || !sub) return [];
    const qp = params.map((p) => p.trim()).find((p) => /^q=/i.test(p));
    const q = qp ? Number(qp.slice(2)) : 1;
    return Number.isFinite(q) ? [{ type, sub, q }] : [];
  });
  let best: { offer: string; q: number } | null = null;
  for (const offer of offers) {
    const [type, sub] = offer.split('/');
    // The most specific range that matches decides the offer's quality.
    let q = -1;
    let specificity = -1;
    for (const r of ranges) {
      const s =
        r.type === type && r.sub === sub ? 2 : r.type === type && r.sub === '*' ? 1 : r.type === '*' && r.sub === '*' ? 0 : -1;
      if (s > specificity) {
        specificity = s;
        q = r.q;
      }
    }
    if (q > 0 && (!best || q > best.q)) best = { offer, q };
  }
  return best?.offer ?? null;
}

/** The message shown for a 5xx: internals are logged, never returned. */
export const GENERIC_5XX_MESSAGE = 'The server has either erred or is incapable of performing the requested operation.';
