import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../exec/fake-runner.js';
import { dnsmasq, parseLeases, staleLeases } from './dnsmasq.js';

const FILE = [
  '1795449397 fa:16:3e:1e:2e:d7 10.77.0.4 host-10-77-0-4 01:fa:16:3e:1e:2e:d7',
  '1795449378 fa:16:3e:3f:51:13 10.77.0.3 host-10-77-0-3 01:fa:16:3e:3f:51:13',
  '1795449300 FA:16:3E:00:00:01 10.77.0.9 * *',
  'garbage line',
  '',
].join('\n');

describe('dnsmasq leases', () => {
  it('parses the lease file (MACs lower-cased, "*" client id as none, junk skipped)', () => {
    expect(parseLeases(FILE).map(({ mac, ip, clientId }) => ({ mac, ip, clientId }))).toEqual([
      { mac: 'fa:16:3e:1e:2e:d7', ip: '10.77.0.4', clientId: '01:fa:16:3e:1e:2e:d7' },
      { mac: 'fa:16:3e:3f:51:13', ip: '10.77.0.3', clientId: '01:fa:16:3e:3f:51:13' },
      { mac: 'fa:16:3e:00:00:01', ip: '10.77.0.9', clientId: null },
    ]);
  });

  it('a lease is stale when its MAC is not given that address any more (a deleted port, an address reused by a new port)', () => {
    const hosts = [
      { mac: 'fa:16:3e:1e:2e:d7', ip: '10.77.0.4' },
      { mac: 'fa:16:3e:5e:b1:e7', ip: '10.77.0.3' }, // the new port holding a deleted port's address
    ];
    expect(staleLeases(parseLeases(FILE), hosts).map((l) => `${l.mac} ${l.ip}`)).toEqual([
      'fa:16:3e:3f:51:13 10.77.0.3',
      'fa:16:3e:00:00:01 10.77.0.9',
    ]);
  });

  it('releases a lease with dhcp_release inside the network namespace, as an argument array', async () => {
    const f = new FakeRunner();
    const [l] = parseLeases(FILE).slice(1);
    await dnsmasq(f.run).release('qdhcp-9695560d-3fb6-4df0-9f4f-82f8f741ed20', 'ns-8f677539-65', l!);
    expect(f.calls.map((c) => [c.cmd, ...c.args])).toEqual([
      [
        'ip',
        'netns',
        'exec',
        'qdhcp-9695560d-3fb6-4df0-9f4f-82f8f741ed20',
        'dhcp_release',
        'ns-8f677539-65',
        '10.77.0.3',
        'fa:16:3e:3f:51:13',
        '01:fa:16:3e:3f:51:13',
      ],
    ]);
    await expect(dnsmasq(f.run).release('qdhcp-x', 'bad dev; rm -rf /', l!)).rejects.toThrow();
  });
});
