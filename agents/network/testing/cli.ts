#!/usr/bin/env node
import { join } from 'node:path';
import { makeRunner, type ToolName } from '../../../shared/exec/run.js';
import { MultiHost } from './harness.js';

/**
 * Simulated hosts on this machine, left up for manual work and for the two-host
 * acceptance run (see agents/network/README.md):
 *
 *   npx tsx agents/network/testing/cli.ts up [--hosts 2] [--libvirt] [--mgmt]
 *   npx tsx agents/network/testing/cli.ts exec <run> <host> <tool> [args...]
 *   npx tsx agents/network/testing/cli.ts down <run>
 *
 * Every host gets its own OVS and optionally its own libvirtd. Without --mgmt, host A
 * (index 1) gets br-ex with 172.24.4.1/24 (the external network's gateway). With
 * --mgmt, netns t<run>-ctl plays the operator's network: the management LAN
 * (198.51.100.1; hosts at 198.51.100.(10+idx)) and the external segment (172.24.4.1/24)
 * that every host's br-ex joins through its uplink ex1 — run the controller and the
 * acceptance scripts there.
 */
async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd === 'up') {
    const n = Number(rest[rest.indexOf('--hosts') + 1] ?? 2) || 2;
    const mh = new MultiHost();
    await mh.up({ mgmt: rest.includes('--mgmt') });
    for (let i = 1; i <= n; i++) {
      const name = String.fromCharCode(64 + i);
      const mgmt = rest.includes('--mgmt');
      const h = await mh.addHost(name, i, { external: !mgmt && i === 1, uplink: mgmt, libvirt: rest.includes('--libvirt') });
      process.stdout.write(
        `host ${name}: netns ${h.netns}, tunnel_ip ${h.tunnelIp}${rest.includes('--mgmt') ? `, listen 198.51.100.${10 + i}` : ''}\n` +
          `  run inside: nsenter --mount=${join(mh.dir, 'ns', `h${name}.mnt`)} --net=/run/netns/${h.netns} -- <command>\n`,
      );
    }
    if (rest.includes('--mgmt')) process.stdout.write(`controller side: ip netns exec ${mh.mgmtNs} <command> (198.51.100.1)\n`);
    process.stdout.write(`run id: ${mh.runId} (down: cli.ts down ${mh.runId})\n`);
    return 0;
  }
  if (cmd === 'exec' && rest.length >= 3) {
    const [runId, host, tool, ...args] = rest as [string, string, string, ...string[]];
    const h = MultiHost.attach(runId).hosts.find((x) => x.name === host);
    if (!h) throw new Error(`no host ${host} in run ${runId}`);
    const r = await h.run(tool as ToolName, args, { okCodes: [0, 1, 2] });
    process.stdout.write(r.stdout);
    process.stderr.write(r.stderr);
    return r.code;
  }
  if (cmd === 'down' && rest[0]) {
    const problems = await MultiHost.attach(rest[0], makeRunner()).teardown();
    for (const p of problems) process.stderr.write(`${p}\n`);
    return problems.length ? 1 : 0;
  }
  process.stderr.write('usage: cli.ts up [--hosts N] [--libvirt] [--mgmt] | exec <run> <host> <tool> [args...] | down <run>\n');
  return 2;
}

main(process.argv.slice(2)).then(
  (c) => process.exit(c),
  (e: unknown) => {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(1);
  },
);
