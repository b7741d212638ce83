import { describe, expect, it } from 'vitest';
import { ConsoleTokenInvalid, ConsoleTokens, type ConsoleTarget } from './tokens.js';

const A: ConsoleTarget = {
  instanceId: '11111111-1111-4111-8111-111111111111',
  hostId: 'h1',
  projectId: 'p1',
  protocol: 'vnc',
  type: 'novnc',
};
const B = '22222222-2222-4222-8222-222222222222';

function store(ttlMs = 600_000) {
  let now = 1_000_000;
  const t = new ConsoleTokens({ ttlMs, now: () => now, maxTokens: 3 });
  return {
    t,
    tick: (ms: number) => {
      now += ms;
    },
  };
}

describe('console tokens', () => {
  it('are random, url-safe, and open the target they were issued for', () => {
    const { t } = store();
    const a = t.issue(A);
    const b = t.issue(A);
    expect(a.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.token).not.toBe(b.token);
    expect(t.consume(a.token)).toEqual(A);
    expect(t.consume(b.token, { instanceId: A.instanceId })).toEqual(A);
  });

  it('work once', () => {
    const { t } = store();
    const { token } = t.issue(A);
    t.consume(token);
    expect(() => t.consume(token)).toThrow(/unknown or already used/);
    expect(t.size).toBe(0);
  });

  it('expire after the ttl', () => {
    const { t, tick } = store(10_000);
    const a = t.issue(A);
    const b = t.issue(A);
    expect(a.expiresAt.getTime()).toBe(1_010_000);
    tick(9_999);
    expect(t.consume(a.token)).toEqual(A);
    tick(1);
    const e = (() => {
      try {
        t.consume(b.token);
      } catch (x) {
        return x;
      }
    })();
    expect(e).toBeInstanceOf(ConsoleTokenInvalid);
    expect((e as ConsoleTokenInvalid).status).toBe(401);
    expect((e as Error).message).toMatch(/expired/);
  });

  it('refuse another instance, and are burnt by the attempt', () => {
    const { t } = store();
    const { token } = t.issue(A);
    expect(() => t.consume(token, { instanceId: B })).toThrow(/issued for another server/);
    expect(() => t.consume(token, { instanceId: A.instanceId })).toThrow(/already used/);
  });

  it('refuse junk, are stored hashed, and are bounded', () => {
    const { t, tick } = store(1000);
    expect(() => t.consume(undefined)).toThrow(ConsoleTokenInvalid);
    expect(() => t.consume('x'.repeat(300))).toThrow(ConsoleTokenInvalid);
    const { token } = t.issue(A);
    const keys = [...(t as unknown as { byHash: Map<string, unknown> }).byHash.keys()];
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(keys[0]).not.toContain(token);
    t.issue(A);
    t.issue(A);
    expect(() => t.issue(A)).toThrow(/Too many console URLs/);
    tick(1000); // expired ones are swept on the next issue
    t.issue(A);
    expect(t.size).toBe(1);
    expect(t.revokeInstance(A.instanceId)).toBe(1);
  });
});
