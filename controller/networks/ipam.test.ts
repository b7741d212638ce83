import { describe, expect, it } from 'vitest';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import {
  checkRequested,
  defaultGateway,
  defaultPools,
  nextFree,
  poolSize,
  validatePools,
  IpAddressAlreadyAllocated,
  IpAddressGenerationFailure,
  InvalidIpForSubnet,
} from './ipam.js';
import { bigToIp, canonicalIp, inCidr, ipToBig, parseCidr } from '../../shared/util/ip.js';
import { allocateVni, claimVni, NoNetworkAvailable, vxlanMtu } from './vxlan.js';

describe('address arithmetic', () => {
  it('round-trips IPv4 and IPv6 in canonical form', () => {
    expect(bigToIp(4, ipToBig('10.253.0.11')!.value)).toBe('10.253.0.11');
    expect(canonicalIp('FD00:0:0:0::0001')).toBe('fd00::1');
    expect(canonicalIp('2001:db8:0:0:1:0:0:1')).toBe('2001:db8::1:0:0:1');
    expect(canonicalIp('::ffff:192.0.2.1')).toBe('::ffff:c000:201');
    expect(canonicalIp('10.0.0.256')).toBeNull();
  });

  it('parses and normalises CIDRs', () => {
    const c = parseCidr('10.253.0.77/24')!;
    expect(bigToIp(4, c.network)).toBe('10.253.0.0');
    expect(inCidr(c, '10.253.0.255')).toBe(true);
    expect(inCidr(c, '10.99.0.5')).toBe(false);
    expect(inCidr(c, 'fd00::1')).toBe(false);
    expect(parseCidr('10.0.0.0/33')).toBeNull();
  });

  it("gives Neutron's default gateway and pools", () => {
    const c = parseCidr('10.251.0.0/24')!;
    expect(defaultGateway(c)).toBe('10.251.0.1');
    expect(defaultPools(c, '10.251.0.1')).toEqual([{ start: '10.251.0.2', end: '10.251.0.254' }]);
    expect(defaultPools(c, '10.251.0.100')).toEqual([
      { start: '10.251.0.1', end: '10.251.0.99' },
      { start: '10.251.0.101', end: '10.251.0.254' },
    ]);
    expect(defaultPools(c, null)).toEqual([{ start: '10.251.0.1', end: '10.251.0.254' }]);
    expect(poolSize(4, defaultPools(c, '10.251.0.1'))).toBe(253n);
  });

  it('validates pools', () => {
    const c = parseCidr('10.0.0.0/24')!;
    expect(() => validatePools(c, [{ start: '10.0.0.0', end: '10.0.0.5' }], null)).toThrow(/spans beyond/);
    expect(() => validatePools(c, [{ start: '10.0.0.5', end: '10.0.0.2' }], null)).toThrow(/after the end/);
    expect(() =>
      validatePools(
        c,
        [
          { start: '10.0.0.2', end: '10.0.0.9' },
          { start: '10.0.0.9', end: '10.0.0.20' },
        ],
        null,
      ),
    ).toThrow(/overlapping/);
    expect(() => validatePools(c, [{ start: '10.0.0.1', end: '10.0.0.9' }], '10.0.0.1')).toThrow(/conflicts/);
  });
});

describe('allocation in a subnet', () => {
  const s = {
    id: 'sub',
    network_id: 'net',
    cidr: '10.9.0.0/29',
    gateway_ip: '10.9.0.1',
    allocation_pools: [{ start: '10.9.0.2', end: '10.9.0.4' }],
  };

  it('checks requested addresses', () => {
    expect(checkRequested(s, '10.9.0.6', new Set())).toBe('10.9.0.6'); // outside the pool but inside the subnet is fine
    expect(() => checkRequested(s, '10.9.0.7', new Set())).toThrow(InvalidIpForSubnet); // broadcast
    expect(() => checkRequested(s, '10.9.0.0', new Set())).toThrow(InvalidIpForSubnet);
    expect(() => checkRequested(s, '10.99.0.5', new Set())).toThrow(InvalidIpForSubnet);
    expect(() => checkRequested(s, 'nonsense', new Set())).toThrow(InvalidIpForSubnet);
    expect(() => checkRequested(s, '10.9.0.3', new Set(['10.9.0.3']))).toThrow(IpAddressAlreadyAllocated);
    expect(() => checkRequested(s, '10.9.0.1', new Set())).toThrow(IpAddressAlreadyAllocated);
    expect(checkRequested(s, '10.9.0.1', new Set(), { mayUseGateway: true })).toBe('10.9.0.1');
  });

  it('hands out the first free address and fails when the pool is exhausted', () => {
    const used = new Set<string>();
    for (const want of ['10.9.0.2', '10.9.0.3', '10.9.0.4']) {
      const got = nextFree(s, used);
      expect(got).toBe(want);
      used.add(got);
    }
    expect(() => nextFree(s, used)).toThrow(IpAddressGenerationFailure);
    used.delete('10.9.0.3');
    expect(nextFree(s, used)).toBe('10.9.0.3');
  });

  it('hands out the first free address of a /64 pool (2^64 addresses) without materialising the pool', () => {
    const v6 = {
      id: 's6',
      network_id: 'n',
      cidr: 'fd00::/64',
      gateway_ip: 'fd00::1',
      allocation_pools: defaultPools(parseCidr('fd00::/64')!, 'fd00::1'),
    };
    expect(nextFree(v6, new Set(['fd00::2']))).toBe('fd00::3');
  });
});

describe('VNI allocator', () => {
  const db = () => {
    const d = openDb(':memory:');
    migrate(d);
    return d;
  };
  const insert = (d: ReturnType<typeof db>, vni: number) =>
    d
      .prepare(
        `INSERT INTO net_networks (id, project_id, network_type, segmentation_id, mtu, created_at, updated_at) VALUES (?, 'p', 'vxlan', ?, 1450, 'x', 'x')`,
      )
      .run(`n${vni}`, vni);

  it('takes the lowest free VNI of the range, unique per network, and refuses when exhausted', () => {
    const d = db();
    const r = { min: 10, max: 13 };
    const got: number[] = [];
    for (let i = 0; i < 4; i++) {
      const v = d
        .transaction(() => {
          const v = allocateVni(d, r);
          insert(d, v);
          return v;
        })
        .immediate();
      got.push(v);
    }
    expect(got).toEqual([10, 11, 12, 13]);
    expect(() => allocateVni(d, r)).toThrow(NoNetworkAvailable);
    d.prepare(`DELETE FROM net_networks WHERE segmentation_id = 11`).run();
    expect(allocateVni(d, r)).toBe(11);
    expect(() => insert(d, 12)).toThrow(/UNIQUE/); // the index is the last guard
  });

  it("checks an admin's VNI", () => {
    const d = db();
    insert(d, 5000);
    expect(() => claimVni(d, 5000)).toThrow(/in use/);
    expect(() => claimVni(d, 0)).toThrow(/out of range/);
    expect(claimVni(d, 5001)).toBe(5001);
    expect(vxlanMtu(1500)).toBe(1450);
  });

  it('never gives one VNI twice across two connections to one database file (immediate transactions)', async () => {
    const { mkdtempSync, rmSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 't-vni-'));
    try {
      const a = openDb(join(dir, 'db.sqlite'));
      migrate(a);
      const b = openDb(join(dir, 'db.sqlite'));
      const r = { min: 1, max: 1000 };
      const take = (d: typeof a) =>
        d
          .transaction(() => {
            const v = allocateVni(d, r);
            insert(d, v);
            return v;
          })
          .immediate();
      const got: number[] = [];
      for (let i = 0; i < 50; i++) got.push(take(i % 2 ? a : b));
      expect(new Set(got).size).toBe(50);
      a.close();
      b.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
