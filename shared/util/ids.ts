import { randomUUID, randomBytes } from 'node:crypto';

const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const HEX32_RE = /^[0-9a-f]{32}$/i;

export const newUuid = (): string => randomUUID();
/** Keystone-style id: 32 lowercase hex digits. */
export const newHexId = (): string => randomBytes(16).toString('hex');
export const isUuid = (s: string): boolean => UUID_RE.test(s);
export const isHexId = (s: string): boolean => HEX32_RE.test(s);
/** The request id every response carries: req-<uuid>. */
export const newRequestId = (): string => `req-${randomUUID()}`;
