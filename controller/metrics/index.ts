import type { FastifyInstance, FastifyRequest } from 'fastify';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { HostsRepo } from '../agents/hosts.repo.js';
import { OperationsRepo } from '../agents/operations.repo.js';
import { scrape } from '../../shared/util/process-metrics.js';
import type { Db } from '../db/open.js';
import type { TokenValidator } from '../http/auth.js';
import { SchedulesRepo } from '../volumes/schedules.repo.js';

/**
 * Prometheus metrics for the controller, one registry per app (no module state, so
 * tests build as many apps as they like).
 *
 * Access: GET /metrics is served on the API port but answered only for loopback peers
 * or a caller whose X-Auth-Token carries the admin role. The API port is public to
 * tenants; route names, host counts and operation backlogs are operator information,
 * and a scraper on the same machine (or one given an admin token) is the common case.
 */
export interface MetricsDeps {
  db: Db;
  /** Resolved lazily: identity is created after the hooks are installed. */
  validator: () => TokenValidator | undefined;
}

export interface ControllerMetrics {
  registry: Registry;
  tokensIssued: Counter;
}

const OP_STATES = ['pending', 'sending', 'done', 'failed'] as const;
const HOST_STATES = ['up', 'down'] as const;

/** Builds the registry; gauges read the database at scrape time. */
export function createControllerMetrics(db: Db): ControllerMetrics {
  const registry = new Registry();
  const ops = new OperationsRepo(db);
  const hosts = new HostsRepo(db);
  new Histogram({
    name: 'homestack_api_request_duration_seconds',
    help: 'API request latency by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [registry],
  });
  const tokensIssued = new Counter({
    name: 'homestack_tokens_issued_total',
    help: 'Keystone tokens issued (POST /v3/auth/tokens answered 201).',
    registers: [registry],
  });
  new Gauge({
    name: 'homestack_operations',
    help: 'Agent operations in the operations table, by state.',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const rows = ops.countByState();
      this.reset();
      for (const s of OP_STATES) this.set({ state: s }, 0);
      for (const r of rows) this.set({ state: r.state }, r.n);
    },
  });
  new Gauge({
    name: 'homestack_hosts',
    help: 'Registered hosts by state (up/down from heartbeats) and enabled flag.',
    labelNames: ['state', 'enabled'],
    registers: [registry],
    collect() {
      const rows = hosts.countByState();
      this.reset();
      for (const s of HOST_STATES) for (const e of ['true', 'false']) this.set({ state: s, enabled: e }, 0);
      for (const r of rows) this.set({ state: r.state, enabled: r.enabled ? 'true' : 'false' }, r.n);
    },
  });
  backupScheduleGauges(registry, new SchedulesRepo(db));
  return { registry, tokensIssued };
}

/** Per backup schedule (issue 18): runs, failures, whether the last run failed, the last success. */
function backupScheduleGauges(registry: Registry, schedules: SchedulesRepo): void {
  const labelNames = ['schedule', 'name', 'volume', 'server'] as const;
  const gauge = (name: string, help: string, value: (s: ReturnType<SchedulesRepo['list']>[number]) => number | null) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        this.reset();
        for (const s of schedules.list()) {
          const v = value(s);
          if (v !== null)
            this.set(
              {
                schedule: s.id,
                name: s.name ?? '',
                volume: s.resource_type === 'volume' ? s.resource_id : '',
                server: s.resource_type === 'server' ? s.resource_id : '',
              },
              v,
            );
        }
      },
    });
  gauge('homestack_backup_schedule_runs', 'Runs of each backup schedule since it was created.', (s) => s.runs);
  gauge(
    'homestack_backup_schedule_failures',
    'Failed runs of each backup schedule (refused, or the backup ended in error).',
    (s) => s.failures,
  );
  gauge('homestack_backup_schedule_last_run_failed', '1 when the last run of the backup schedule failed.', (s) =>
    s.last_status === 'error' ? 1 : 0,
  );
  gauge(
    'homestack_backup_schedule_last_success_timestamp_seconds',
    'When the last backup of the schedule became available (Unix time).',
    (s) => (s.last_success_at ? Date.parse(s.last_success_at) / 1000 : null),
  );
}

export function isLoopback(addr: string | undefined): boolean {
  if (!addr) return false;
  return addr === '::1' || addr.startsWith('127.') || addr.startsWith('::ffff:127.');
}

function allowed(req: FastifyRequest, validator: TokenValidator | undefined): boolean {
  if (isLoopback(req.socket.remoteAddress)) return true;
  const token = req.headers['x-auth-token'];
  if (typeof token !== 'string' || !validator) return false;
  try {
    return validator.validate(token.trim()).isAdmin;
  } catch {
    return false;
  }
}

/**
 * Installs the timing hook (must run before the service plugins are registered so their
 * routes inherit it) and the GET /metrics route.
 */
export function installMetrics(app: FastifyInstance, deps: MetricsDeps): ControllerMetrics {
  const m = createControllerMetrics(deps.db);
  const hist = m.registry.getSingleMetric('homestack_api_request_duration_seconds') as Histogram;
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? '<unmatched>';
    if (route === '/metrics') return;
    const status = String(reply.statusCode);
    hist.observe({ method: req.method, route, status }, reply.elapsedTime / 1000);
    if (req.method === 'POST' && route.endsWith('/v3/auth/tokens') && reply.statusCode === 201) m.tokensIssued.inc();
  });
  app.get('/metrics', async (req, reply) => {
    if (!allowed(req, deps.validator())) {
      return reply
        .code(403)
        .type('application/json')
        .send({
          error: {
            code: 403,
            title: 'Forbidden',
            message: 'GET /metrics is allowed from loopback or with an admin X-Auth-Token.',
          },
        });
    }
    const body = await scrape(m.registry);
    return reply.type(m.registry.contentType).send(body);
  });
  return m;
}
