import type { BodyOf, ReplyOf } from '../../shared/agent/contract.js';
import {
  CleanupInstance,
  LiveMigrate,
  LiveMigrationAbort,
  LiveMigrationForceComplete,
  LiveMigrationProgress,
  PrepareIncoming,
  TransferOffer,
  type MigrationStats,
  type TransferFile,
} from '../../shared/agent/migration.js';
import type { AgentLayer } from '../agents/index.js';
import { HostOpError, type HostRef } from './host-gateway.js';

/**
 * What moving an instance needs from its hosts (shared/agent/migration.ts). Every method
 * rejects with HostOpError (the agent's code and message, which names the failing step).
 * The steps of a move are synchronous calls: a move is not resumed after a controller
 * restart but reconciled (reconcile.ts); only the cleanup is durable (it must reach a
 * host that is down now).
 */
export interface MoveGateway {
  /** The agent's base URL (files are read from it by the other agent). */
  agentUrl(host: HostRef): string;
  /** The address other hosts reach this host at (migration traffic, certificate SAN). */
  address(host: HostRef): string;
  offer(host: HostRef, uuid: string, token: string, files: TransferFile[], expiresS: number): Promise<void>;
  prepareIncoming(host: HostRef, b: BodyOf<typeof PrepareIncoming>): Promise<ReplyOf<typeof PrepareIncoming>>;
  liveMigrate(host: HostRef, b: BodyOf<typeof LiveMigrate>): Promise<ReplyOf<typeof LiveMigrate>>;
  progress(host: HostRef, uuid: string): Promise<{ running: boolean; stats: MigrationStats | null }>;
  abort(host: HostRef, uuid: string): Promise<boolean>;
  forceComplete(host: HostRef, uuid: string): Promise<boolean>;
  /** Durable: queued until the host answers. */
  cleanup(host: HostRef, uuid: string, volumeIds: string[], keepRunning: boolean): Promise<void>;
}

const errorOf = (e: unknown): HostOpError => {
  if (e instanceof HostOpError) return e;
  const x = e as { agentCode?: string; code?: string; message?: string };
  return new HostOpError(x?.agentCode ?? x?.code ?? 'HostError', x?.message ?? String(e));
};
async function wrap<T>(p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw errorOf(e);
  }
}

export function agentMoveGateway(layer: AgentLayer): MoveGateway {
  const { agents, hosts, dispatcher } = layer;
  const urlOf = (h: HostRef) => hosts.get(h.id).agent_url.replace(/\/+$/, '');
  return {
    agentUrl: urlOf,
    address: (h) => new URL(urlOf(h)).hostname.replace(/^\[|\]$/g, ''),
    async offer(h, uuid, token, files, expiresS) {
      await wrap(agents.forHost(h.id).call(TransferOffer, { uuid, token, files, expires_s: expiresS }));
    },
    prepareIncoming: (h, b) => wrap(agents.forHost(h.id).call(PrepareIncoming, b)),
    liveMigrate: (h, b) => wrap(agents.forHost(h.id).call(LiveMigrate, b)),
    progress: (h, uuid) => wrap(agents.forHost(h.id).call(LiveMigrationProgress, { uuid })),
    abort: async (h, uuid) => (await wrap(agents.forHost(h.id).call(LiveMigrationAbort, { uuid }))).aborted,
    forceComplete: async (h, uuid) => (await wrap(agents.forHost(h.id).call(LiveMigrationForceComplete, { uuid }))).paused,
    async cleanup(h, uuid, volumeIds, keepRunning) {
      const op = dispatcher.enqueue({
        hostId: h.id,
        route: CleanupInstance,
        body: { uuid, volume_ids: volumeIds, keep_running: keepRunning },
        resource: { type: 'server', id: `${uuid}@${h.id}` },
      });
      const out = await dispatcher.wait(op.id);
      if (!out.ok) throw new HostOpError(out.error.code, out.error.message);
    },
  };
}
