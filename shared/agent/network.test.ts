import { describe, expect, it } from 'vitest';
import { Value } from 'typebox/value';
import { NetworkSync, NetworkSyncBody, NetworkSyncReply } from './network.js';
import { NET, PORT, sampleSync } from './network.sample.js';

describe('network agent contract', () => {
  it('accepts a whole desired state and names the route', () => {
    expect(NetworkSync.url).toBe('/v1/network/sync');
    expect(Value.Check(NetworkSyncBody, sampleSync)).toBe(true);
  });
  it('rejects unknown fields and a bad MAC', () => {
    expect(Value.Check(NetworkSyncBody, { ...sampleSync, extra: 1 })).toBe(false);
    const bad = structuredClone(sampleSync);
    bad.ports[0]!.mac = 'nope';
    expect(Value.Check(NetworkSyncBody, bad)).toBe(false);
  });
  it('a router without gateway is valid; a reply validates', () => {
    const b = structuredClone(sampleSync) as { routers: Array<{ gateway: unknown }> };
    b.routers[0]!.gateway = null;
    expect(Value.Check(NetworkSyncBody, b)).toBe(true);
    expect(
      Value.Check(NetworkSyncReply, {
        generation: 1,
        ignored: false,
        networks: [{ id: NET, local_vlan: 1 }],
        ports: [{ port_id: PORT, status: 'ACTIVE' }],
        tunnels: { active: ['192.0.2.2'], added: ['192.0.2.2'], removed: [] },
        flows: { added: 3, deleted: 0 },
        errors: [],
        duration_ms: 5,
      }),
    ).toBe(true);
  });
});
