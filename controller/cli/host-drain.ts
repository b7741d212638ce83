import type { CommandSpec, Values } from './args.js';
import { str, usageFailure, UsageError } from './args.js';
import { ComputeClient } from './compute-client.js';

/**
 * `homestack host drain NAME [--parallel N]`: disables the compute host (os-services, so
 * the scheduler places nothing new there) and live-migrates every guest away through the
 * compute API (os-migrateLive at 2.30, the scheduler choosing the destination), one at a
 * time by default. It prints each move and its progress; on the first failure it starts
 * no more moves, waits for those under way and says which guests stayed. The host stays
 * disabled: `homestack host enable NAME` afterwards.
 */
export const HOST_DRAIN: CommandSpec = {
  words: 'host drain',
  args: 'NAME',
  options: { parallel: { type: 'string', value: 'N' }, timeout: { type: 'string', value: 'S' } },
  help: "disable the host and live-migrate every guest away (N at a time, default 1; S seconds per guest, default 1800); needs an admin's OS_* variables",
};

export interface DrainServer {
  id: string;
  name: string;
  status: string;
  taskState: string | null;
  host: string | null;
}

export interface MigrationProgress {
  status: string;
  memory: [number, number];
  disk: [number, number];
}

/** What the drain needs of the cloud (ComputeClient in use; a fake in the unit tests). */
export interface DrainApi {
  disable(host: string, reason: string): Promise<void>;
  serversOn(host: string): Promise<DrainServer[]>;
  /** Starts the live migration; resolves with the request id (its instance action). */
  liveMigrate(id: string): Promise<string>;
  /** The server now, or null when it is gone. */
  server(id: string): Promise<DrainServer | null>;
  progress(id: string): Promise<MigrationProgress | null>;
  /** Why the move of `requestId` failed: the failed instance-action events' words. */
  failure(id: string, requestId: string): Promise<string>;
}

export interface DrainResult {
  moved: Array<{ server: DrainServer; to: string; seconds: number }>;
  failed: Array<{ server: DrainServer; reason: string }>;
  stayed: Array<{ server: DrainServer; why: string }>;
}

const MOVABLE = ['ACTIVE', 'PAUSED'];
const MiB = 1024 * 1024;
const mib = (n: number) => Math.round(n / MiB);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function drainHost(
  api: DrainApi,
  host: string,
  o: { parallel?: number; timeoutMs?: number; pollMs?: number; progressEveryMs?: number; say?: (line: string) => void } = {},
): Promise<DrainResult> {
  const say = o.say ?? (() => {});
  const parallel = Math.max(1, o.parallel ?? 1);
  const pollMs = o.pollMs ?? 2000;
  const progressEveryMs = o.progressEveryMs ?? 10_000;
  const timeoutMs = o.timeoutMs ?? 1_800_000;
  await api.disable(host, 'homestack host drain');
  say(`${host} disabled: the scheduler places no new instances there`);
  const all = await api.serversOn(host);
  const result: DrainResult = { moved: [], failed: [], stayed: [] };
  const queue: DrainServer[] = [];
  for (const s of all) {
    if (!MOVABLE.includes(s.status)) result.stayed.push({ server: s, why: `${s.status}: only running guests are live-migrated` });
    else if (s.taskState) result.stayed.push({ server: s, why: `busy (task_state ${s.taskState})` });
    else queue.push(s);
  }
  const total = queue.length;
  say(
    `${host}: ${all.length} guest(s); ${total} to live-migrate, ${Math.min(parallel, total || 1)} at a time` +
      (result.stayed.length ? `; ${result.stayed.length} left as they are` : ''),
  );
  let started = 0;
  let stop = false;

  const moveOne = async (s: DrainServer, n: number): Promise<void> => {
    const tag = `[${n}/${total}] ${s.name} (${s.id})`;
    const t0 = Date.now();
    let rid: string;
    try {
      rid = await api.liveMigrate(s.id);
    } catch (e) {
      throw new Error(`refused: ${(e as Error).message}`);
    }
    say(`${tag}: live migration started`);
    let lastSaid = Date.now();
    let lastStatus = '';
    for (;;) {
      await sleep(pollMs);
      const now = await api.server(s.id).catch(() => undefined); // a moment without the controller: poll again
      if (now === null) {
        say(`${tag}: deleted meanwhile`);
        return;
      }
      if (now && !now.taskState && now.status !== 'MIGRATING') {
        if (now.host && now.host !== host && MOVABLE.includes(now.status)) {
          const seconds = (Date.now() - t0) / 1000;
          result.moved.push({ server: s, to: now.host, seconds });
          say(`${tag}: on ${now.host} after ${seconds.toFixed(1)} s`);
          return;
        }
        const why = await api.failure(s.id, rid).catch((e: Error) => `(could not read its instance action: ${e.message})`);
        throw new Error(`still on ${now.host ?? '?'} (${now.status}): ${why}`);
      }
      if (Date.now() - t0 > timeoutMs)
        throw new Error(`still migrating after ${Math.round(timeoutMs / 1000)} s (left running; see its migration record)`);
      const p = await api.progress(s.id).catch(() => null);
      if (p && (p.status !== lastStatus || Date.now() - lastSaid >= progressEveryMs)) {
        lastStatus = p.status;
        lastSaid = Date.now();
        const figures = [
          ...(p.memory[1] ? [`memory ${mib(p.memory[0])}/${mib(p.memory[1])} MiB`] : []),
          ...(p.disk[1] ? [`disk ${mib(p.disk[0])}/${mib(p.disk[1])} MiB`] : []),
        ];
        say(`${tag}: ${[p.status, ...figures].join(', ')}`);
      }
    }
  };

  const worker = async () => {
    while (!stop && queue.length) {
      const s = queue.shift()!;
      const n = ++started;
      try {
        await moveOne(s, n);
      } catch (e) {
        stop = true;
        result.failed.push({ server: s, reason: (e as Error).message });
        say(`[${n}/${total}] ${s.name} (${s.id}): FAILED: ${(e as Error).message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, Math.max(total, 1)) }, worker));
  for (const s of queue) result.stayed.push({ server: s, why: 'not attempted: the drain stopped after a failure' });
  return result;
}

/** The DrainApi over the compute API (2.30: os-migrateLive with host null and block_migration auto). */
export function drainApiOf(c: ComputeClient): DrainApi {
  const view = (d: Record<string, unknown>): DrainServer => ({
    id: String(d.id),
    name: String(d.name),
    status: String(d.status),
    taskState: (d['OS-EXT-STS:task_state'] as string | null) ?? null,
    host: (d['OS-EXT-SRV-ATTR:host'] as string | null) ?? null,
  });
  return {
    async disable(host, reason) {
      await c.call('PUT', '/os-services/disable-log-reason', { host, binary: 'nova-compute', disabled_reason: reason });
    },
    async serversOn(host) {
      const r = await c.call<{ servers: Array<Record<string, unknown>> }>(
        'GET',
        `/servers/detail?all_tenants=1&host=${encodeURIComponent(host)}`,
      );
      return r.body.servers.map(view);
    },
    async liveMigrate(id) {
      const r = await c.call('POST', `/servers/${id}/action`, { 'os-migrateLive': { host: null, block_migration: 'auto' } });
      return r.requestId;
    },
    async server(id) {
      try {
        return view((await c.call<{ server: Record<string, unknown> }>('GET', `/servers/${id}`)).body.server);
      } catch (e) {
        if ((e as { status?: number }).status === 404) return null;
        throw e;
      }
    },
    async progress(id) {
      const r = await c.call<{ migrations: Array<Record<string, unknown>> }>('GET', `/servers/${id}/migrations`);
      const m = r.body.migrations.find((x) => x.migration_type === 'live-migration') ?? r.body.migrations[0];
      if (!m) return null;
      const n = (k: string) => Number(m[k] ?? 0) || 0;
      return {
        status: String(m.status),
        memory: [n('memory_processed_bytes'), n('memory_total_bytes')],
        disk: [n('disk_processed_bytes'), n('disk_total_bytes')],
      };
    },
    async failure(id, requestId) {
      const r = await c.call<{ instanceAction: { events?: Array<{ event: string; result: string; traceback: string | null }> } }>(
        'GET',
        `/servers/${id}/os-instance-actions/${requestId}`,
      );
      const bad = (r.body.instanceAction.events ?? []).filter((e) => e.result === 'Error');
      return bad.length ? bad.map((e) => `${e.event}: ${e.traceback ?? ''}`).join('; ') : 'no failed step recorded';
    },
  };
}

/** Prints the summary; the exit code: 0 when the host is empty, 1 otherwise. */
export function reportDrain(host: string, r: DrainResult, out: (line: string) => void): number {
  out(`${host}: ${r.moved.length} moved, ${r.failed.length} failed, ${r.stayed.length} stayed`);
  for (const f of r.failed) out(`  failed: ${f.server.name} (${f.server.id}): ${f.reason}`);
  for (const s of r.stayed) out(`  stayed: ${s.server.name} (${s.server.id}): ${s.why}`);
  out(`${host} stays disabled; \`homestack host enable ${host}\` when it is back in service`);
  return r.failed.length || r.stayed.length ? 1 : 0;
}

export async function hostDrain(name: string, values: Values, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const num = (k: string, d: number) => {
    const v = str(values, k);
    if (v === undefined) return d;
    if (!/^[1-9]\d*$/.test(v)) throw new UsageError(`--${k} must be a positive whole number`, HOST_DRAIN);
    return Number(v);
  };
  let parallel: number;
  let timeoutS: number;
  try {
    parallel = num('parallel', 1);
    timeoutS = num('timeout', 1800);
  } catch (e) {
    if (e instanceof UsageError) return usageFailure(e);
    throw e;
  }
  const line = (l: string) => process.stdout.write(`${l}\n`);
  const api = drainApiOf(await ComputeClient.fromEnv(env, '2.30'));
  const r = await drainHost(api, name, { parallel, timeoutMs: timeoutS * 1000, say: line });
  return reportDrain(name, r, line);
}
