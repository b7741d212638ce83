import { SimHost, type SimStats } from './sim-host.js';

/**
 * The simulated hosts, in one child process of the benchmark (so their CPU is not the
 * controller's, and the bench's own clients are not slowed by them). Driven over IPC:
 *   {t:'join', hosts:[{name,ip,secret}], ...}  → {t:'joined', ok, ms}
 *   {t:'arrivals', rule, group}                → {t:'arrivals', affected, times}
 *   {t:'kill', name} / {t:'revive', name}      → {t:'ok'}
 *   {t:'stats'}                                → {t:'stats', stats}
 */
export interface HostSpec {
  name: string;
  ip: string;
  secret: string;
}
export type FleetMsg =
  | { t: 'join'; hosts: HostSpec[]; port: number; controllerUrl: string; spawnMs: number; heartbeatS: number }
  | { t: 'arrivals'; rule: string; group: string }
  | { t: 'kill'; name: string }
  | { t: 'revive'; name: string; heartbeatS: number }
  | { t: 'stats' }
  | { t: 'stop' };

const stats: SimStats = {
  heartbeats: 0,
  heartbeatBytes: 0,
  heartbeatFailures: 0,
  registerRetries: 0,
  syncs: 0,
  syncBytes: 0,
  syncMaxBytes: 0,
  calls: {},
  rejected: {},
  arrivals: new Map(),
};
const hosts = new Map<string, SimHost>();
const reply = (m: object): void => void process.send!(m);

async function onMessage(m: FleetMsg): Promise<void> {
  switch (m.t) {
    case 'join': {
      const t0 = performance.now();
      const made = m.hosts.map(
        (h) => new SimHost({ ...h, port: m.port, controllerUrl: m.controllerUrl, spawnMs: m.spawnMs, stats }),
      );
      for (const h of made) hosts.set(h.o.name, h);
      await Promise.all(made.map((h) => h.start()));
      // Registrations arrive as a fleet's do after a power cut: 50 in flight at a time.
      let ok = 0;
      for (let i = 0; i < made.length; i += 50)
        ok += (await Promise.all(made.slice(i, i + 50).map((h) => h.join(m.heartbeatS).catch(() => false)))).filter(
          Boolean,
        ).length;
      return reply({ t: 'joined', ok, ms: performance.now() - t0 });
    }
    case 'arrivals': {
      // Affected: hosts whose latest desired state carries the group.
      const affected = [...hosts.values()].filter((h) => h.lastSync?.security_groups.some((g) => g.id === m.group)).length;
      return reply({ t: 'arrivals', affected, times: [...(stats.arrivals.get(m.rule)?.values() ?? [])] });
    }
    case 'kill':
      await hosts.get(m.name)?.stop();
      return reply({ t: 'ok' });
    case 'revive': {
      const h = hosts.get(m.name)!;
      await h.start();
      await h.join(m.heartbeatS);
      return reply({ t: 'ok' });
    }
    case 'stats':
      return reply({ t: 'stats', stats: { ...stats, arrivals: undefined } });
    case 'stop':
      await Promise.all([...hosts.values()].map((h) => h.stop()));
      process.exit(0);
  }
}

process.on('message', (m: FleetMsg) => {
  onMessage(m).catch((e) => reply({ t: 'error', message: (e as Error).stack ?? String(e) }));
});
