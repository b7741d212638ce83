import { describe, expect, it } from 'vitest';
import { UsageSampler } from './usage-sampler.js';

const quiet = { warn: () => {} };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('UsageSampler (heartbeats never wait on a busy daemon)', () => {
  it('returns every role that answers within the budget', async () => {
    const s = new UsageSampler(
      [
        ['compute', async () => ({ instances: 2 })],
        ['volume', async () => ({ volumes: 1 })],
      ],
      100,
      quiet,
    );
    expect(await s.sample()).toEqual({ compute: { instances: 2 }, volume: { volumes: 1 } });
  });

  it('a slow role is reported with its last sample, on time, and its late answer refreshes the cache', async () => {
    let n = 0;
    let delay = 0;
    const warnings: string[] = [];
    const s = new UsageSampler(
      [
        [
          'compute',
          async () => {
            n += 1;
            const v = n;
            await sleep(delay);
            return { instances: v };
          },
        ],
      ],
      50,
      { warn: (_o, m) => warnings.push(m ?? '') },
    );
    expect(await s.sample()).toEqual({ compute: { instances: 1 } });
    delay = 300;
    const t0 = Date.now();
    expect(await s.sample()).toEqual({ compute: { instances: 1 } });
    expect(Date.now() - t0).toBeLessThan(250);
    expect(warnings).toEqual([expect.stringMatching(/slow/)]);
    // A heartbeat while the slow call still runs does not start a second one.
    expect(await s.sample()).toEqual({ compute: { instances: 1 } });
    expect(n).toBe(2);
    await sleep(350);
    delay = 0;
    expect(await s.sample()).toEqual({ compute: { instances: 3 } });
  });

  it('a role never sampled is left out while it is slow; a failing role keeps its last sample', async () => {
    let fail = false;
    const s = new UsageSampler(
      [
        [
          'network',
          async () => {
            await sleep(200);
            return { ports: 1 };
          },
        ],
        [
          'volume',
          async () => {
            if (fail) throw new Error('tgtd gone');
            return { volumes: 4 };
          },
        ],
      ],
      30,
      quiet,
    );
    expect(await s.sample()).toEqual({ volume: { volumes: 4 } });
    fail = true;
    await sleep(250);
    expect(await s.sample()).toEqual({ network: { ports: 1 }, volume: { volumes: 4 } });
  });
});
