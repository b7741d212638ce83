import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import { Value } from 'typebox/value';
import type { TSchema } from 'typebox';
import {
  HeartbeatBody,
  INTERNAL_HEARTBEAT_PATH,
  INTERNAL_REGISTER_PATH,
  RegisterBody,
  type HeartbeatReply,
  type RegisterReply,
} from '../../shared/agent/host.js';
import { BadRequest } from '../../shared/errors/index.js';
import type { ControllerConfig } from '../../shared/config/controller.js';
import { installErrorHandling } from '../http/errors.js';
import type { HostRegistry } from './registry.js';

const PREFIX = '/internal/v1';

function bearer(req: FastifyRequest): string | undefined {
  const h = req.headers.authorization;
  const m = typeof h === 'string' ? /^Bearer\s+(\S+)\s*$/i.exec(h) : null;
  return m?.[1];
}

function check<S extends TSchema>(schema: S, body: unknown): void {
  if (Value.Check(schema, body)) return;
  const e = [...Value.Errors(schema, body)][0] as { instancePath?: string; message?: string } | undefined;
  throw new BadRequest(`Invalid body at '${e?.instancePath || '/'}': ${e?.message ?? 'invalid'}`);
}

/**
 * The routes agents call on the controller, mounted under /internal/v1 and
 * authenticated with the per-host credential (not with Keystone tokens). Errors use
 * the agent error document.
 */
export function internalAgentRoutes(
  hosts: HostRegistry,
  config: ControllerConfig,
): { prefix: string; plugin: FastifyPluginAsync } {
  const plugin: FastifyPluginAsync = async (app) => {
    installErrorHandling(app, { style: 'agent' });
    app.post(INTERNAL_REGISTER_PATH.slice(PREFIX.length), async (req): Promise<RegisterReply> => {
      const secret = bearer(req);
      hosts.authenticate(secret);
      check(RegisterBody, req.body);
      const h = hosts.register(secret, req.body as RegisterBody);
      req.log.info({ host: h.name, hostId: h.id, roles: h.roles }, 'host registered');
      return {
        host_id: h.id,
        state: h.state,
        heartbeat_s: config.agents.heartbeat_s,
        down_after_missed: config.agents.down_after_missed,
      };
    });
    // Heartbeats are frequent: log them only when something goes wrong.
    app.post(INTERNAL_HEARTBEAT_PATH.slice(PREFIX.length), { logLevel: 'warn' }, async (req): Promise<HeartbeatReply> => {
      const secret = bearer(req);
      hosts.authenticate(secret);
      check(HeartbeatBody, req.body);
      const h = hosts.heartbeat(secret, req.body as HeartbeatBody);
      return { host_id: h.id, state: h.state };
    });
  };
  return { prefix: PREFIX, plugin };
}
