import { Type, type Static } from 'typebox';
import { defineRoute } from './contract.js';

/**
 * The host-level contract every agent speaks, whatever its roles:
 *
 * - agent → controller (internal API on the controller, `Authorization: Bearer <secret>`):
 *   `POST /internal/v1/hosts/register` once at start (and again whenever the controller
 *   answers a heartbeat with 401/404), then `POST /internal/v1/hosts/heartbeat` every
 *   `heartbeat_s` seconds with current usage.
 * - controller → agent (descriptors below, same bearer secret): `GET /v1/health` and the
 *   diagnostic `POST /v1/echo` (used by the dispatcher's system tests: it records every
 *   call it really executes, so "exactly once" can be observed from outside).
 *
 * Credential model: the secret lives in the agent's credential_file (0600). The
 * controller's database keeps only its sha256 (hosts.credential_hash, written at
 * enrolment). The controller learns the secret itself from the agent's own
 * register/heartbeat calls (which it verifies against the hash) and keeps it in memory
 * only, to call that agent back; after a controller restart, calls to a host wait for
 * its next heartbeat.
 */

export const Role = Type.Union([Type.Literal('compute'), Type.Literal('network'), Type.Literal('volume')]);
export type Role = Static<typeof Role>;

/** Host-wide usage, sampled at every heartbeat. Role-specific figures go in `roles`. */
export const HostUsage = Type.Object(
  {
    load1: Type.Number({ minimum: 0 }),
    memory_mb_total: Type.Integer({ minimum: 0 }),
    memory_mb_used: Type.Integer({ minimum: 0 }),
    disk_gb_total: Type.Integer({ minimum: 0 }),
    disk_gb_used: Type.Integer({ minimum: 0 }),
    uptime_s: Type.Integer({ minimum: 0 }),
    /** Per role: named numeric figures (e.g. compute: { instances: 3, vcpus_used: 4 }). */
    roles: Type.Record(Type.String(), Type.Record(Type.String(), Type.Number())),
  },
  { additionalProperties: false },
);
export type HostUsage = Static<typeof HostUsage>;

export const RegisterBody = Type.Object(
  {
    hostname: Type.String({ minLength: 1, maxLength: 255, pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' }),
    /** Roles this agent actually serves (those that failed to load are left out). */
    roles: Type.Array(Role),
    vcpus: Type.Integer({ minimum: 0 }),
    memory_mb: Type.Integer({ minimum: 0 }),
    disk_gb: Type.Integer({ minimum: 0 }),
    hypervisor_type: Type.String(),
    agent_version: Type.String(),
    api_version: Type.Integer({ minimum: 1 }),
    /** Where the controller reaches this agent: http://<mgmt address>:<port>. */
    agent_url: Type.String({ pattern: '^https?://' }),
    tunnel_ip: Type.String(),
    /** Per role: what it offers (e.g. compute: { virt_type: "qemu" }); roles that failed are in `unavailable_roles`. */
    capabilities: Type.Object(
      {
        roles: Type.Record(Type.String(), Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean()]))),
        unavailable_roles: Type.Record(Type.String(), Type.String()),
      },
      { additionalProperties: false },
    ),
    usage: HostUsage,
  },
  { additionalProperties: false },
);
export type RegisterBody = Static<typeof RegisterBody>;

export const RegisterReply = Type.Object({
  host_id: Type.String(),
  state: Type.String(),
  /** The controller's expectations, for the agent's log. */
  heartbeat_s: Type.Integer(),
  down_after_missed: Type.Integer(),
});
export type RegisterReply = Static<typeof RegisterReply>;

export const HeartbeatBody = Type.Object(
  {
    hostname: Type.String({ minLength: 1 }),
    api_version: Type.Integer({ minimum: 1 }),
    usage: HostUsage,
  },
  { additionalProperties: false },
);
export type HeartbeatBody = Static<typeof HeartbeatBody>;

export const HeartbeatReply = Type.Object({ host_id: Type.String(), state: Type.String() });
export type HeartbeatReply = Static<typeof HeartbeatReply>;

export const INTERNAL_REGISTER_PATH = '/internal/v1/hosts/register';
export const INTERNAL_HEARTBEAT_PATH = '/internal/v1/hosts/heartbeat';

/** controller → agent: is it alive, what does it serve. */
export const Health = defineRoute({
  name: 'host.health',
  method: 'GET',
  url: '/v1/health',
  body: Type.Object({}, { additionalProperties: false }),
  reply: Type.Object({
    hostname: Type.String(),
    agent_version: Type.String(),
    api_version: Type.Integer(),
    roles: Type.Array(Role),
    unavailable_roles: Type.Record(Type.String(), Type.String()),
    uptime_s: Type.Integer({ minimum: 0 }),
  }),
  timeoutMs: 5_000,
});

/**
 * Diagnostic no-op: replies with what it was sent after `delay_ms`, and records each
 * execution (not each delivery: a repeated op id is answered from the idempotency
 * store and not recorded again). `GET /v1/echo` lists the recorded executions.
 */
export const Echo = defineRoute({
  name: 'host.echo',
  method: 'POST',
  url: '/v1/echo',
  body: Type.Object(
    {
      message: Type.String({ maxLength: 1000 }),
      delay_ms: Type.Optional(Type.Integer({ minimum: 0, maximum: 60_000 })),
      /** Fail with this agent error code instead (retryable false): tests the failed path. */
      fail_code: Type.Optional(Type.String({ maxLength: 100 })),
    },
    { additionalProperties: false },
  ),
  reply: Type.Object({ message: Type.String(), op_id: Type.Union([Type.String(), Type.Null()]), executed_at: Type.String() }),
  timeoutMs: 70_000,
});

export const EchoLog = defineRoute({
  name: 'host.echo_log',
  method: 'GET',
  url: '/v1/echo',
  body: Type.Object({}, { additionalProperties: false }),
  reply: Type.Object({
    calls: Type.Array(
      Type.Object({ message: Type.String(), op_id: Type.Union([Type.String(), Type.Null()]), executed_at: Type.String() }),
    ),
  }),
  timeoutMs: 5_000,
});
