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

/** The message shown for a 5xx: internals are logged, never returned. */
export const GENERIC_5XX_MESSAGE = 'The server has either erred or is incapable of performing the requested operation.';
