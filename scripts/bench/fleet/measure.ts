import type { Api } from './cloud.js';
import { procSample } from './cloud.js';
import type { FleetMsg } from './sim-fleet.js';
import type { Tenant } from './setup.js';

export interface Row {
  hosts: number;
  instances: number;
  joinS: number;
  createP50: number;
  createP99: number;
  activePerS: number;
  errors: number;
  listP50: number;
  listP99: number;
  showP99: number;
  portsP99: number;
  tokenP99: number;
  convergeP99: number;
  idleCpu: number;
  loadCpu: number;
  idleWriteKbS: number;
  rssMb: number;
  dbMb: number;
  hbBytes: number;
  syncBytes: number;
  syncMaxBytes: number;
  syncs: number;
  /** Hosts the controller marked down (missed heartbeats) so far: none of them really died. */
  flaps: number;
  load1: number;
}

export const pct = (xs: number[], p: number) =>
  xs.length ? xs.slice().sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]! : NaN;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * After a boot storm: (1) idle: heartbeats and periodic jobs only, controller CPU and
 * disk writes over `idleS`; (2) steady traffic from `clients` clients for `loadS`:
 * server list (1,000 per page) and show, port list, token validation, each timed;
 * (3) three security-group rule additions, each timed until every host whose desired
 * state carries the group has received it (reported by the simulated hosts).
 */
export async function measureLoad(o: {
  api: Api;
  admin: string;
  ctlPid: number;
  cloud: { tenants: Tenant[] };
  servers: Array<{ id: string; tenant: number }>;
  clients: number;
  loadS: number;
  idleS: number;
  ask: <T>(m: FleetMsg) => Promise<T>;
}): Promise<
  Pick<Row, 'listP50' | 'listP99' | 'showP99' | 'portsP99' | 'tokenP99' | 'convergeP99' | 'idleCpu' | 'loadCpu' | 'idleWriteKbS'>
> {
  const { api, cloud } = o;
  await sleep(5000);
  const i0 = procSample(o.ctlPid);
  await sleep(o.idleS * 1000);
  const i1 = procSample(o.ctlPid);
  const secs = (i1.at - i0.at) / 1000;

  const lat: Record<'list' | 'show' | 'ports' | 'token', number[]> = { list: [], show: [], ports: [], token: [] };
  const end = performance.now() + o.loadS * 1000;
  const l0 = procSample(o.ctlPid);
  await Promise.all(
    Array.from({ length: o.clients }, async (_, c) => {
      for (let i = c; performance.now() < end; i += o.clients) {
        const t = cloud.tenants[i % cloud.tenants.length]!;
        const kind = (['list', 'show', 'ports', 'token'] as const)[i % 4]!;
        const s = o.servers[(i * 7919) % o.servers.length]!;
        const r =
          kind === 'list'
            ? await api.call('GET', '/compute/v2.1/servers/detail?limit=1000', { token: t.token })
            : kind === 'show'
              ? await api.call('GET', `/compute/v2.1/servers/${s.id}`, { token: cloud.tenants[s.tenant]!.token })
              : kind === 'ports'
                ? await api.call('GET', '/network/v2.0/ports?limit=1000', { token: t.token })
                : await api.call('GET', '/identity/v3/auth/tokens', { token: o.admin, headers: { 'x-subject-token': t.token } });
        if (r.status !== 200) throw new Error(`${kind}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        lat[kind].push(r.ms);
      }
    }),
  );
  const l1 = procSample(o.ctlPid);

  const converge: number[] = [];
  const t = cloud.tenants[0]!;
  for (let k = 0; k < 3; k++) {
    const t0 = Date.now();
    const r = await api.call('POST', '/network/v2.0/security-group-rules', {
      token: t.token,
      body: {
        security_group_rule: {
          security_group_id: t.defaultGroup,
          direction: 'ingress',
          protocol: 'tcp',
          port_range_min: 2000 + k + Math.floor(Math.random() * 60000),
          remote_ip_prefix: '192.0.2.0/24',
        },
      },
    });
    if (r.status !== 201) throw new Error(`rule: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
    const rule = r.body.security_group_rule.id as string;
    for (;;) {
      const a = await o.ask<{ affected: number; times: number[] }>({ t: 'arrivals', rule, group: t.defaultGroup });
      if (a.affected > 0 && a.times.length >= a.affected) {
        converge.push(Math.max(...a.times) - t0);
        break;
      }
      if (Date.now() - t0 > 120_000) {
        converge.push(Number.POSITIVE_INFINITY);
        break;
      }
      await sleep(50);
    }
  }
  return {
    listP50: pct(lat.list, 50),
    listP99: pct(lat.list, 99),
    showP99: pct(lat.show, 99),
    portsP99: pct(lat.ports, 99),
    tokenP99: pct(lat.token, 99),
    convergeP99: Math.max(...converge),
    idleCpu: ((i1.cpuS - i0.cpuS) / secs) * 100,
    loadCpu: ((l1.cpuS - l0.cpuS) / ((l1.at - l0.at) / 1000)) * 100,
    idleWriteKbS: (i1.writeBytes - i0.writeBytes) / 1024 / secs,
  };
}
