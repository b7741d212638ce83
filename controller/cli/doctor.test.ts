import { Value } from 'typebox/value';
import { describe, expect, it } from 'vitest';
import { AgentConfigSchema, type AgentConfig } from '../../shared/config/agent.js';
import { FakeRunner } from '../../shared/exec/fake-runner.js';
import { formatChecks, runDoctor, type DoctorDeps } from './doctor.js';

const NOW = Date.parse('2026-11-22T10:00:00Z');
function deps(run: FakeRunner, over: Partial<DoctorDeps> = {}): DoctorDeps {
  return {
    run: run.run,
    readFile: async (p) => {
      if (p === '/proc/cpuinfo') return 'flags\t: fpu vmx sse\n';
      if (p.endsWith('/mtu')) return '1500\n';
      if (p === '/sys/module/openvswitch/refcnt') throw new Error('ENOENT');
      throw new Error(`ENOENT ${p}`);
    },
    accessRw: async () => {},
    freeBytes: async () => 100 * 2 ** 30,
    fetch: async () => ({ status: 200, date: new Date(NOW + 2000).toUTCString() }),
    now: () => NOW,
    ...over,
  };
}
const VERSION =
  'Compiled against library: libvirt 9.0.0\nUsing library: libvirt 9.0.0\nUsing API: QEMU 9.0.0\nRunning hypervisor: QEMU 7.2.0\n';

describe('homestack doctor', () => {
  it('reports a libvirt URI pointing at a missing socket as a failure with its fix, the rest ok', async () => {
    const config = Value.Default(AgentConfigSchema, {
      roles: ['compute', 'network'],
      compute: { libvirt_uri: 'qemu+unix:///system?socket=/nonexistent/sock' },
    }) as AgentConfig;
    const f = new FakeRunner()
      .on(
        (c) => c.cmd === 'virsh',
        new Error(
          "error: failed to connect to the hypervisor\nerror: Failed to connect socket to '/nonexistent/sock': No such file or directory",
        ),
      )
      .on((c) => c.cmd === 'ovs-vsctl', { stdout: 'br-int\nbr-tun\n' })
      .on((c) => c.cmd === 'dnsmasq', { stdout: 'Dnsmasq version 2.89  Copyright (c) 2000-2022 Simon Kelley\n' })
      .on((c) => c.cmd === 'ip', { stdout: '[{"dst":"8.8.8.8","dev":"eth0"}]' });
    const checks = await runDoctor(config, deps(f));
    const byName = Object.fromEntries(checks.map((c) => [c.name, c]));
    expect(byName.libvirt!.status).toBe('fail');
    expect(byName.libvirt!.detail).toMatch(/nonexistent\/sock/);
    expect(byName.libvirt!.fix).toMatch(/start libvirtd.*libvirt_uri/);
    expect(byName.virtualisation!.status).toBe('ok');
    expect(byName.openvswitch!.detail).toMatch(/netdev/);
    expect(byName['tunnel MTU']!.status).toBe('ok');
    expect(byName.controller!.status).toBe('ok');
    expect(formatChecks(checks)).toMatch(/FAIL libvirt: .*\n     fix: start libvirtd/);
  });

  it('reports a missing data dir, a small MTU, clock skew, no /dev/kvm and a missing volume group', async () => {
    const config = Value.Default(AgentConfigSchema, {
      roles: ['compute', 'network', 'volume'],
      data_dir: '/nonexistent/hs',
      volume: { backend: 'lvm', volume_group: 'tvg' },
    }) as AgentConfig;
    const f = new FakeRunner()
      .on((c) => c.cmd === 'virsh', { stdout: VERSION })
      .on((c) => c.cmd === 'ip', { stdout: '[{"dev":"ens3"}]' })
      .on((c) => c.cmd === 'vgs', { stdout: '{"report":[{"vg":[]}]}' });
    const d = deps(f, {
      readFile: async (p) => (p.endsWith('/mtu') ? '1400' : p === '/proc/cpuinfo' ? 'flags: fpu' : ''),
      accessRw: async () => {
        throw new Error('EACCES');
      },
      freeBytes: async (p) => {
        throw new Error(`ENOENT: no such file or directory, statfs '${p}'`);
      },
      fetch: async () => ({ status: 300, date: new Date(NOW - 120_000).toUTCString() }),
    });
    const byName = Object.fromEntries((await runDoctor(config, d)).map((c) => [c.name, c]));
    expect(byName['disk /nonexistent/hs']).toMatchObject({
      status: 'fail',
      fix: expect.stringMatching(/mkdir -p \/nonexistent\/hs/),
    });
    expect(byName['tunnel MTU']).toMatchObject({ status: 'warn', fix: expect.stringMatching(/ens3.*1350/) });
    expect(byName.controller).toMatchObject({ status: 'warn', detail: expect.stringMatching(/skew 120 s/) });
    expect(byName.virtualisation).toMatchObject({ status: 'warn', fix: expect.stringMatching(/VT-x/) });
    expect(byName['volume group']).toMatchObject({ status: 'fail', fix: expect.stringMatching(/vgcreate tvg/) });
    expect(byName.libvirt!.status).toBe('ok');
  });
});
