import { describe, expect, it } from 'vitest';
import { FakeRunner } from '../exec/fake-runner.js';
import { parseDomStats, virsh } from './virsh.js';

// The layout of `virsh domstats --raw` (libvirt 9.0): one block per domain.
const SAMPLE = `Domain: 'inst-a'
  cpu.time=52831000000
  cpu.user=1000000
  balloon.current=1048576
  balloon.maximum=1048576
  balloon.rss=402360
  net.count=2
  net.0.name=tap1
  net.0.rx.bytes=1000
  net.0.rx.pkts=10
  net.0.tx.bytes=2000
  net.1.name=tap2
  net.1.rx.bytes=5
  net.1.tx.bytes=7
  block.count=1
  block.0.name=vda
  block.0.rd.bytes=4096
  block.0.wr.bytes=8192
  block.0.allocation=1073741824

Domain: 'inst-b'
  cpu.time=1
`;

describe('virsh domstats', () => {
  it('parses per-domain counters and sums NICs and disks', () => {
    const [a, b] = parseDomStats(SAMPLE);
    expect(a).toEqual({
      name: 'inst-a',
      cpuTimeNs: 52831000000,
      memoryKiB: 1048576,
      rssKiB: 402360,
      netRxBytes: 1005,
      netTxBytes: 2007,
      blockReadBytes: 4096,
      blockWriteBytes: 8192,
      blockAllocationBytes: 1073741824,
    });
    expect(b).toMatchObject({ name: 'inst-b', cpuTimeNs: 1, netRxBytes: 0 });
    expect(parseDomStats('')).toEqual([]);
  });

  it('runs virsh domstats --raw with the connection uri', async () => {
    const f = new FakeRunner().on((c) => c.args.includes('domstats'), { stdout: SAMPLE });
    const v = virsh(f.run, { uri: 'qemu:///system' });
    expect((await v.domstats()).map((d) => d.name)).toEqual(['inst-a', 'inst-b']);
    expect(f.calls[0]!.args).toEqual([
      '-c',
      'qemu:///system',
      'domstats',
      '--raw',
      '--cpu-total',
      '--balloon',
      '--interface',
      '--block',
    ]);
  });
});
