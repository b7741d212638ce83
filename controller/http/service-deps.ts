import type { FastifyBaseLogger } from 'fastify';
import type { ControllerConfig } from '../../shared/config/controller.js';
import type { Db } from '../db/open.js';
import type { Facades } from '../facades.js';
import type { AuthService } from './auth.js';

/**
 * What every service plugin receives (no module-level state: house style 3.7 rule 10).
 * Services add what they need from each other through these, never by import-time
 * singletons.
 */
export interface ServiceDeps {
  config: ControllerConfig;
  db: Db;
  auth: AuthService;
  log: FastifyBaseLogger;
  /** Other services' facades, filled by buildApp in dependency order. */
  facades: Partial<Facades>;
  /** Extra collaborators wired by buildApp (agent gateway, dispatcher...). */
  extras: Record<string, unknown>;
}
