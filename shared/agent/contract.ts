import type { Static, TSchema } from 'typebox';

/**
 * One controller→agent call. Both sides are built from the same descriptor (house
 * style 3.3): the agent registers `route(Descriptor, handler)`, the controller calls
 * `client.call(Descriptor, body)` and gets a validated, typed reply.
 *
 * Conventions every agent route follows:
 * - URLs live under /v1; changes are additive only; the agent reports `apiVersion`.
 * - Auth: `Authorization: Bearer <per-host secret>`; anything else is 401.
 * - Idempotency: a call sent by the durable dispatcher carries `X-Homestack-Op-Id`;
 *   the agent remembers finished ids with their reply and answers a repeat with the
 *   stored reply instead of doing the work again (a repeat that arrives while the
 *   first is still running waits for it).
 * - Errors: `{"error":{"code":"LvExists","message":"…","retryable":false}}` with a 4xx
 *   or 5xx status.
 */
export interface AgentRoute<B extends TSchema = TSchema, R extends TSchema = TSchema> {
  /** Stable name, also the operation `kind` in the dispatcher (e.g. "compute.spawn"). */
  readonly name: string;
  readonly method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** Path under the agent, may contain :params filled from the body of the same name. */
  readonly url: string;
  readonly body: B;
  readonly reply: R;
  /** How long the controller waits for the reply (long work such as a boot). */
  readonly timeoutMs?: number;
}

export type BodyOf<T extends AgentRoute> = Static<T['body']>;
export type ReplyOf<T extends AgentRoute> = Static<T['reply']>;

export const defineRoute = <B extends TSchema, R extends TSchema>(r: AgentRoute<B, R>): AgentRoute<B, R> => r;

export const AGENT_API_VERSION = 1;
export const OP_ID_HEADER = 'x-homestack-op-id';

/** Fills `:name` segments of a route URL from the body. */
export function routePath(url: string, body: Record<string, unknown> | undefined): string {
  return url.replace(/:([A-Za-z_]+)/g, (_m, k: string) => encodeURIComponent(String(body?.[k] ?? '')));
}
