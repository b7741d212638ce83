import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync, chmodSync, cpSync } from 'node:fs';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { makeRunner, type Runner, type RunOptions } from '../../../shared/exec/run.js';

/**
 * Several simulated hosts on one machine, after shared/docs/multihost-recipe.md:
 *
 * - an underlay: netns `t<run>-ul` holding a Linux bridge `ul0` (192.0.2.0/24);
 * - per host: netns `t<run>-h<N>` + a persistent PRIVATE mount namespace in which
 *   /run/openvswitch and /run/netns are per-host folders, its own ovsdb-server and
 *   ovs-vswitchd, `br-phy` (netdev) holding the uplink `eth1` and the tunnel endpoint
 *   192.0.2.<idx>; optionally `br-ex` with 172.24.4.1/24 as the host's address on the
 *   external network (as devstack and the all-in-one do);
 * - fake guests: netns `t<run>-g<name>` with `eth0` a veth whose other end
 *   (`tap<port[:11]>`) is in the host, TX checksum offload off (recipe §8.1).
 *
 * `host.run` is a Runner that executes every tool inside the host (nsenter into its
 * mount and network namespaces), so the agent's driver runs unchanged with default
 * paths. Teardown stops every daemon by its pid file, then deletes namespaces and files.
 * Everything is named `t<run>…`.
 */

export interface SimHost {
  name: string;
  idx: number;
  netns: string;
  dir: string;
  tunnelIp: string;
  run: Runner;
  /** Runs argv in the host's network namespace only (root mount namespace). */
  sh(cmd: string, o?: RunOptions): Promise<string>;
}

export interface FakeGuest {
  name: string;
  netns: string;
  mac: string;
  portId: string;
  host: SimHost;
  /** The guest's shell (busybox sh -c), as a real guest's serial console. */
  sh(cmd: string, o?: RunOptions): Promise<{ stdout: string; code: number }>;
  /** busybox udhcpc: resolves with the lease (address/prefix, router, mtu) or throws. */
  dhcp(timeoutS?: number): Promise<{ ip: string; mask: string; router: string; mtu: string; ms: number }>;
  ping(ip: string, count?: number, waitS?: number): Promise<boolean>;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export const UDHCPC_SCRIPT = `#!/bin/sh
# udhcpc event script of the fake guests: apply address, MTU and router; record the lease.
case "$1" in
  deconfig) busybox ip addr flush dev "$interface"; busybox ip link set "$interface" up ;;
  bound|renew)
    busybox ip addr flush dev "$interface"
    busybox ip addr add "$ip/\${mask:-24}" dev "$interface"
    [ -n "$mtu" ] && busybox ip link set "$interface" mtu "$mtu"
    [ -n "$router" ] && busybox ip route replace default via "\${router%% *}"
    echo "ip=$ip mask=\${mask:-} router=\${router:-} mtu=\${mtu:-}" > "$LEASE_FILE" ;;
esac
exit 0
`;

export class MultiHost {
  readonly runId: string;
  readonly prefix: string;
  readonly dir: string;
  readonly underlay: string;
  readonly hosts: SimHost[] = [];
  readonly guests: FakeGuest[] = [];
  private readonly extraNs: string[] = [];

  constructor(
    readonly root: Runner = makeRunner(),
    runId = randomBytes(2).toString('hex'),
  ) {
    this.runId = runId;
    this.prefix = `t${runId}`;
    this.dir = `/tmp/${this.prefix}`;
    this.underlay = `${this.prefix}-ul`;
  }

  /** Why system tests cannot run here, or null. */
  static unavailable(): string | null {
    if (process.getuid?.() !== 0) return 'needs root';
    for (const b of [
      '/usr/sbin/ovs-vswitchd',
      '/usr/sbin/ovsdb-server',
      '/usr/sbin/dnsmasq',
      '/usr/bin/busybox',
      '/usr/sbin/ethtool',
      '/usr/sbin/nft',
    ]) {
      if (!existsSync(b)) return `${b} is not installed`;
    }
    return null;
  }

  /** The management LAN namespace (controller side), when `up({ mgmt: true })`. */
  get mgmtNs(): string {
    return `${this.prefix}-ctl`;
  }
  private mgmt = false;

  /**
   * The underlay; with `mgmt`, also a management LAN: netns `t<run>-ctl` with bridge
   * `mg0` and 198.51.100.1/24 (where a controller listens), each host getting `mgmt0`
   * with 198.51.100.(10+idx) (no OVS on that path, so no checksum issue); and the
   * external segment: bridge `ex0` with 172.24.4.1/24 (the external network's gateway,
   * like a physical router) which hosts added with `uplink` join through br-ex.
   */
  async up(o: { mgmt?: boolean } = {}): Promise<void> {
    mkdirSync(join(this.dir, 'ns'), { recursive: true });
    mkdirSync('/run/openvswitch', { recursive: true });
    mkdirSync('/run/netns', { recursive: true });
    writeFileSync(join(this.dir, 'udhcpc.sh'), UDHCPC_SCRIPT);
    chmodSync(join(this.dir, 'udhcpc.sh'), 0o755);
    // unshare --mount=FILE needs FILE on a private mount
    await this.root('mount', ['--bind', join(this.dir, 'ns'), join(this.dir, 'ns')]);
    await this.root('mount', ['--make-private', join(this.dir, 'ns')]);
    await this.root('ip', ['netns', 'add', this.underlay]);
    await this.ul(['link', 'set', 'lo', 'up']);
    await this.ul(['link', 'add', 'ul0', 'type', 'bridge']);
    await this.ul(['link', 'set', 'ul0', 'up']);
    if (o.mgmt) {
      this.mgmt = true;
      await this.root('ip', ['netns', 'add', this.mgmtNs]);
      for (const a of [
        ['link', 'set', 'lo', 'up'],
        ['link', 'add', 'mg0', 'type', 'bridge'],
        ['link', 'set', 'mg0', 'up'],
        ['addr', 'add', '198.51.100.1/24', 'dev', 'mg0'],
        ['link', 'add', 'ex0', 'type', 'bridge'],
        ['link', 'set', 'ex0', 'up'],
        ['addr', 'add', '172.24.4.1/24', 'dev', 'ex0'],
      ]) {
        await this.root('ip', ['-n', this.mgmtNs, ...a]);
      }
      // TCP from this namespace (the operator, the acceptance runner) enters OVS netdev through
      // veths: full checksums needed, as for any veth into the userspace datapath (recipe §8.1)
      await this.root('ip', ['netns', 'exec', this.mgmtNs, 'ethtool', '-K', 'ex0', 'tx', 'off']);
    }
    this.saveState();
  }

  /** Written after every change so `MultiHost.attach(runId)` (the CLI) can find and tear down a run. */
  private saveState(): void {
    writeFileSync(
      join(this.dir, 'state.json'),
      JSON.stringify(
        {
          runId: this.runId,
          mgmt: this.mgmt,
          extraNs: this.extraNs,
          hosts: this.hosts.map((h) => ({ name: h.name, idx: h.idx })),
        },
        null,
        1,
      ),
    );
  }

  /** Reattaches to a run left up by the CLI (for `exec` and `down`). */
  static attach(runId: string, root: Runner = makeRunner()): MultiHost {
    const mh = new MultiHost(root, runId);
    const st = JSON.parse(readFileSync(join(mh.dir, 'state.json'), 'utf8')) as {
      mgmt: boolean;
      extraNs: string[];
      hosts: Array<{ name: string; idx: number }>;
    };
    mh.mgmt = st.mgmt;
    mh.extraNs.push(...st.extraNs);
    for (const h of st.hosts) mh.hosts.push(mh.handle(h.name, h.idx));
    return mh;
  }

  /** The handle of host `name` (its Runner enters the host's mount and network namespaces). */
  private handle(name: string, idx: number): SimHost {
    const netns = `${this.prefix}-h${name}`;
    const enter = ['--mount=' + join(this.dir, 'ns', `h${name}.mnt`), '--net=/run/netns/' + netns, '--'];
    const run: Runner = (cmd, args, ro) => this.root('nsenter', [...enter, cmd, ...args], ro);
    return {
      name,
      idx,
      netns,
      dir: join(this.dir, `h${name}`),
      tunnelIp: `192.0.2.${idx}`,
      run,
      sh: async (cmd, so) => (await this.root('ip', ['netns', 'exec', netns, 'busybox', 'sh', '-c', cmd], so)).stdout,
    };
  }

  private ul(args: string[]) {
    return this.root('ip', ['-n', this.underlay, ...args]);
  }

  /**
   * A host with its own OVS; `external` adds br-ex with 172.24.4.1/24; `libvirt` starts
   * the host's own virtlogd and libvirtd (recipe §5: private /run/libvirt, /var/lib/libvirt,
   * /var/cache/libvirt, /var/log/libvirt, /etc/libvirt; /sys of the host's netns with the
   * cgroup tree kept). Inside, `virsh -c qemu:///system` reaches the host's libvirtd; from
   * outside use `qemu+unix:///system?socket=<dir>/lv/run/libvirt-sock`.
   */
  async addHost(
    name: string,
    idx: number,
    o: { external?: boolean; uplink?: boolean; libvirt?: boolean } = {},
  ): Promise<SimHost> {
    const netns = `${this.prefix}-h${name}`;
    const dir = join(this.dir, `h${name}`);
    for (const d of ['run', 'db', 'netns', 'data']) mkdirSync(join(dir, d), { recursive: true });
    const mnt = join(this.dir, 'ns', `h${name}.mnt`);
    writeFileSync(mnt, '');
    await this.root('ip', ['netns', 'add', netns]);
    await this.root('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await this.root('ip', [
      'link',
      'add',
      'eth1',
      'netns',
      netns,
      'type',
      'veth',
      'peer',
      'name',
      `ul-${name}`,
      'netns',
      this.underlay,
    ]);
    await this.ul(['link', 'set', `ul-${name}`, 'master', 'ul0', 'up']);
    if (this.mgmt) {
      await this.root('ip', [
        'link',
        'add',
        'mgmt0',
        'netns',
        netns,
        'type',
        'veth',
        'peer',
        'name',
        `mg-${name}`,
        'netns',
        this.mgmtNs,
      ]);
      await this.root('ip', ['-n', this.mgmtNs, 'link', 'set', `mg-${name}`, 'master', 'mg0', 'up']);
      await this.root('ip', ['-n', netns, 'addr', 'add', `198.51.100.${10 + idx}/24`, 'dev', 'mgmt0']);
      await this.root('ip', ['-n', netns, 'link', 'set', 'mgmt0', 'up']);
    }
    await this.root('unshare', [`--mount=${mnt}`, '--propagation', 'private', 'true']);
    const host = this.handle(name, idx);
    const { run, tunnelIp } = host;
    this.hosts.push(host);
    this.saveState();
    await run('mount', ['--bind', join(dir, 'run'), '/run/openvswitch']);
    await run('mount', ['--bind', join(dir, 'netns'), '/run/netns']);
    await this.root('ovsdb-tool', ['create', join(dir, 'db', 'conf.db'), '/usr/share/openvswitch/vswitch.ovsschema']);
    await run('ovsdb-server', [
      join(dir, 'db', 'conf.db'),
      '--remote=punix:/run/openvswitch/db.sock',
      '--pidfile=/run/openvswitch/ovsdb-server.pid',
      `--log-file=${join(dir, 'ovsdb-server.log')}`,
      '--detach',
    ]);
    await run('ovs-vsctl', ['--no-wait', 'init']);
    await run('ovs-vswitchd', [
      'unix:/run/openvswitch/db.sock',
      '--pidfile=/run/openvswitch/ovs-vswitchd.pid',
      `--log-file=${join(dir, 'ovs-vswitchd.log')}`,
      '--detach',
    ]);
    await run('ovs-vsctl', [
      '--timeout=10',
      '--may-exist',
      'add-br',
      'br-phy',
      '--',
      'set',
      'bridge',
      'br-phy',
      'datapath_type=netdev',
      '--',
      '--may-exist',
      'add-port',
      'br-phy',
      'eth1',
    ]);
    await run('ip', ['link', 'set', 'eth1', 'up']);
    await run('ip', ['addr', 'add', `${tunnelIp}/24`, 'dev', 'br-phy']);
    await run('ip', ['link', 'set', 'br-phy', 'up']);
    if (o.libvirt) await this.startLibvirt(host);
    if (o.external) {
      await run('ovs-vsctl', [
        '--timeout=10',
        '--may-exist',
        'add-br',
        'br-ex',
        '--',
        'set',
        'bridge',
        'br-ex',
        'datapath_type=netdev',
      ]);
      await run('ip', ['addr', 'add', '172.24.4.1/24', 'dev', 'br-ex']);
      await run('ip', ['link', 'set', 'br-ex', 'up']);
    } else if (o.uplink) {
      if (!this.mgmt) throw new Error('uplink needs up({ mgmt: true }): the external segment lives in the management namespace');
      // br-ex with an uplink `ex1` into the shared external segment (bridge ex0 in t<run>-ctl, 172.24.4.1)
      await this.root('ip', [
        'link',
        'add',
        'ex1',
        'netns',
        netns,
        'type',
        'veth',
        'peer',
        'name',
        `ex-${name}`,
        'netns',
        this.mgmtNs,
      ]);
      await this.root('ip', ['-n', this.mgmtNs, 'link', 'set', `ex-${name}`, 'master', 'ex0', 'up']);
      await this.root('ip', ['netns', 'exec', this.mgmtNs, 'ethtool', '-K', `ex-${name}`, 'tx', 'off']);
      await run('ip', ['link', 'set', 'ex1', 'up']);
      await run('ovs-vsctl', [
        '--timeout=10',
        '--may-exist',
        'add-br',
        'br-ex',
        '--',
        'set',
        'bridge',
        'br-ex',
        'datapath_type=netdev',
        '--',
        '--may-exist',
        'add-port',
        'br-ex',
        'ex1',
      ]);
      await run('ip', ['link', 'set', 'br-ex', 'up']);
    }
    return host;
  }

  private async startLibvirt(h: SimHost): Promise<void> {
    const lv = join(h.dir, 'lv');
    for (const d of ['run', 'lib', 'cache', 'log', 'etc', 'cg']) mkdirSync(join(lv, d), { recursive: true });
    // A private /etc (overlay on the machine's): enrolment writes the host's TLS certificates
    // to libvirt's default paths under /etc/pki, which must stay per host and off the machine
    // (live-migration recipe §3).
    for (const d of ['etc.up', 'etc.wk']) mkdirSync(join(h.dir, d), { recursive: true });
    await h.run('mount', [
      '-t',
      'overlay',
      `${this.prefix}etc${h.name}`,
      '-o',
      `lowerdir=/etc,upperdir=${join(h.dir, 'etc.up')},workdir=${join(h.dir, 'etc.wk')}`,
      '/etc',
    ]);
    cpSync('/etc/libvirt', join(lv, 'etc'), { recursive: true });
    rmSync(join(lv, 'etc', 'qemu', 'networks'), { recursive: true, force: true });
    // Only the configuration: not the machine's persistent domains (other tests' guests
    // defined in the shared libvirtd at this moment) nor its secrets.
    for (const f of existsSync(join(lv, 'etc', 'qemu')) ? readdirSync(join(lv, 'etc', 'qemu')) : []) {
      if (f.endsWith('.xml') || f === 'autostart') rmSync(join(lv, 'etc', 'qemu', f), { recursive: true, force: true });
    }
    rmSync(join(lv, 'etc', 'secrets'), { recursive: true, force: true });
    if (existsSync('/var/cache/libvirt/qemu/capabilities'))
      cpSync('/var/cache/libvirt/qemu', join(lv, 'cache', 'qemu'), { recursive: true });
    await h.run('mount', ['--rbind', '/sys/fs/cgroup', join(lv, 'cg')]);
    await h.run('mount', ['-t', 'sysfs', `${this.prefix}sys${h.name}`, '/sys']);
    await h.run('mount', ['--move', join(lv, 'cg'), '/sys/fs/cgroup']);
    for (const [src, dst] of [
      ['run', '/run/libvirt'],
      ['lib', '/var/lib/libvirt'],
      ['cache', '/var/cache/libvirt'],
      ['log', '/var/log/libvirt'],
      ['etc', '/etc/libvirt'],
    ] as const) {
      mkdirSync(dst, { recursive: true });
      await h.run('mount', ['--bind', join(lv, src), dst]);
    }
    // Every libvirtd needs its own host UUID, or libvirt refuses a migration between them as
    // "to the same host" (recipe §3; real hosts get one from SMBIOS).
    writeFileSync(
      join(lv, 'etc', 'libvirtd.conf'),
      `${readFileSync(join(lv, 'etc', 'libvirtd.conf'), 'utf8')}\nhost_uuid = "${randomUUID()}"\n`,
    );
    await h.run('virtlogd', ['-d', '-p', join(lv, 'virtlogd.pid')]);
    await this.startLibvirtd(h);
  }

  /** The host's libvirtd (again): --listen once its TLS certificate is installed (enrolment). */
  async startLibvirtd(h: SimHost): Promise<void> {
    const lv = join(h.dir, 'lv');
    const listen = existsSync(join(h.dir, 'etc.up', 'pki', 'libvirt', 'servercert.pem'));
    rmSync(join(lv, 'run', 'libvirt-sock'), { force: true });
    await h.run('libvirtd', ['-d', ...(listen ? ['-l'] : []), '-p', join(lv, 'libvirtd.pid')]);
    for (let i = 0; i < 200 && !existsSync(join(lv, 'run', 'libvirt-sock')); i++) await sleep(50);
    if (!existsSync(join(lv, 'run', 'libvirt-sock'))) throw new Error(`host ${h.name}: libvirtd did not create its socket`);
  }

  /**
   * The host's own tgtd (iSCSI target) with a private /run/tgtd, so its control socket and
   * targets are not the machine's (recipe §7.1).
   */
  async startTgtd(h: SimHost): Promise<void> {
    mkdirSync(join(h.dir, 'tgtd'), { recursive: true });
    mkdirSync('/run/tgtd', { recursive: true });
    await h.run('mount', ['--bind', join(h.dir, 'tgtd'), '/run/tgtd']);
    await h.run('tgtd', ['--pid-file', join(h.dir, 'tgtd.pid')]);
    for (let i = 0; i < 100 && !existsSync(join(h.dir, 'tgtd', 'socket.0')); i++) await sleep(50);
    if (!existsSync(join(h.dir, 'tgtd', 'socket.0'))) throw new Error(`host ${h.name}: tgtd did not create its socket`);
  }

  /** Stops a host's tgtd the way Debian's init script does (SIGTERM alone does not while targets exist). */
  private async stopTgtd(h: SimHost): Promise<void> {
    const t = (args: string[]) => h.run('tgtadm', ['--lld', 'iscsi', ...args], { okCodes: [0, 1, 22, 107] });
    await t(['--op', 'update', '--mode', 'sys', '--name', 'State', '-v', 'offline']);
    const show = (await t(['--op', 'show', '--mode', 'target'])).stdout;
    for (const m of show.matchAll(/^Target (\d+):/gm)) await t(['--op', 'delete', '--mode', 'target', '--force', '--tid', m[1]!]);
    await t(['--op', 'delete', '--mode', 'system']);
  }

  /** A fake guest on `host`; `plug: 'virtualport'` adds the OVS row as libvirt would, 'ethernet' leaves it to the agent. */
  async addGuest(
    host: SimHost,
    name: string,
    portId: string,
    mac: string,
    o: { plug?: 'virtualport' | 'ethernet' } = {},
  ): Promise<FakeGuest> {
    const netns = `${this.prefix}-g${name}`;
    const tap = `tap${portId.slice(0, 11)}`;
    await this.root('ip', ['netns', 'add', netns]);
    this.extraNs.push(netns);
    this.saveState();
    await this.root('ip', ['-n', netns, 'link', 'set', 'lo', 'up']);
    await this.root('ip', ['link', 'add', tap, 'netns', host.netns, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', netns]);
    await this.root('ip', ['-n', netns, 'link', 'set', 'eth0', 'address', mac, 'up']);
    await this.root('ip', ['netns', 'exec', netns, 'ethtool', '-K', 'eth0', 'tx', 'off']);
    await host.run('ip', ['link', 'set', tap, 'up']);
    if ((o.plug ?? 'virtualport') === 'virtualport') {
      await host.run('ovs-vsctl', [
        '--timeout=10',
        '--may-exist',
        'add-port',
        'br-int',
        tap,
        '--',
        'set',
        'Interface',
        tap,
        `external_ids:iface-id=${portId}`,
        `external_ids:attached-mac=${mac}`,
        'external_ids:iface-status=active',
      ]);
    }
    const leaseFile = join(this.dir, `lease-${name}`);
    const sh = async (cmd: string, so?: RunOptions) => {
      const r = await this.root('ip', ['netns', 'exec', netns, 'busybox', 'sh', '-c', cmd], {
        okCodes: [0, 1, 2, 124, 127],
        ...so,
      });
      return { stdout: r.stdout, code: r.code };
    };
    const g: FakeGuest = {
      name,
      netns,
      mac,
      portId,
      host,
      sh,
      dhcp: async (timeoutS = 30) => {
        rmSync(leaseFile, { force: true });
        const t0 = Date.now();
        const r = await this.root(
          'ip',
          [
            'netns',
            'exec',
            netns,
            'busybox',
            'udhcpc',
            '-i',
            'eth0',
            '-f',
            '-q',
            '-n',
            '-t',
            String(timeoutS),
            '-T',
            '1',
            '-O',
            'mtu',
            '-s',
            join(this.dir, 'udhcpc.sh'),
          ],
          { env: { LEASE_FILE: leaseFile }, timeoutMs: (timeoutS + 10) * 1000, okCodes: [0, 1] },
        );
        const ms = Date.now() - t0;
        if (r.code !== 0 || !existsSync(leaseFile))
          throw new Error(`guest ${name}: no DHCP lease (${r.stderr.trim().split('\n').slice(-2).join(' | ')})`);
        const kv = Object.fromEntries(
          readFileSync(leaseFile, 'utf8')
            .trim()
            .split(' ')
            .map((x) => x.split('=') as [string, string]),
        );
        return { ip: kv.ip ?? '', mask: kv.mask ?? '', router: kv.router ?? '', mtu: kv.mtu ?? '', ms };
      },
      ping: async (ip, count = 2, waitS = 2) => (await sh(`busybox ping -c ${count} -W ${waitS} ${ip}`)).code === 0,
    };
    this.guests.push(g);
    return g;
  }

  /** A namespace pair joined by a plain veth (the throughput baseline). */
  async addVethPair(): Promise<{ a: string; b: string }> {
    const a = `${this.prefix}-va`;
    const b = `${this.prefix}-vb`;
    for (const n of [a, b]) {
      await this.root('ip', ['netns', 'add', n]);
      await this.root('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
      this.extraNs.push(n);
      this.saveState();
    }
    await this.root('ip', ['link', 'add', 'eth0', 'netns', a, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
    await this.root('ip', ['-n', a, 'addr', 'add', '10.99.0.1/24', 'dev', 'eth0']);
    await this.root('ip', ['-n', b, 'addr', 'add', '10.99.0.2/24', 'dev', 'eth0']);
    await this.root('ip', ['-n', a, 'link', 'set', 'eth0', 'up']);
    await this.root('ip', ['-n', b, 'link', 'set', 'eth0', 'up']);
    return { a, b };
  }

  /**
   * Sends `mib` MiB over TCP from namespace `from` to `toIp` (busybox nc; a listener in
   * `to`) and returns bytes received and the elapsed time.
   */
  async tcpTransfer(
    from: string,
    to: string,
    toIp: string,
    mib: number,
    port = 5001,
  ): Promise<{ bytes: number; ms: number; mbitPerS: number }> {
    const server = this.root('ip', ['netns', 'exec', to, 'busybox', 'sh', '-c', `busybox nc -l -p ${port} | busybox wc -c`], {
      timeoutMs: 120_000,
    });
    await sleep(300);
    const t0 = performance.now();
    await this.root(
      'ip',
      [
        'netns',
        'exec',
        from,
        'busybox',
        'sh',
        '-c',
        `busybox dd if=/dev/zero bs=65536 count=${mib * 16} 2>/dev/null | busybox nc ${toIp} ${port}`,
      ],
      { timeoutMs: 120_000 },
    );
    const out = await server;
    const ms = performance.now() - t0;
    const bytes = Number(out.stdout.trim());
    return { bytes, ms: Math.round(ms), mbitPerS: Math.round((bytes * 8) / (ms / 1000) / 1e6) };
  }

  /** Stops everything this run started and deletes its namespaces and files. */
  async teardown(): Promise<string[]> {
    const problems: string[] = [];
    const tryRun = async (what: string, f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        problems.push(`${what}: ${(e as Error).message}`);
      }
    };
    for (const h of this.hosts) {
      if (!existsSync(join(h.dir, 'lv', 'run', 'libvirt-sock'))) continue;
      await tryRun(`domains on ${h.name}`, async () => {
        const names = (await h.run('virsh', ['-c', 'qemu:///system', 'list', '--name'])).stdout.split('\n').filter(Boolean);
        for (const n of names) await h.run('virsh', ['-c', 'qemu:///system', 'destroy', n]);
      });
    }
    for (const h of this.hosts) {
      if (existsSync(join(h.dir, 'tgtd', 'socket.0'))) await tryRun(`tgtd on ${h.name}`, () => this.stopTgtd(h));
    }
    // dnsmasq, libvirtd, virtlogd: started with a pid file under our directory
    for (const pidFile of findPidFiles(this.dir)) {
      let pid = 0;
      let cmdline = '';
      try {
        pid = Number(readFileSync(pidFile, 'utf8').trim()); // may vanish while daemons exit
        if (!(pid > 0)) continue;
        cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
      } catch {
        continue;
      }
      if (!cmdline.includes(this.dir) || /ovs/.test(cmdline)) continue;
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
    }
    for (const h of this.hosts) {
      for (const d of ['ovs-vswitchd', 'ovsdb-server']) {
        const pf = join(h.dir, 'run', `${d}.pid`);
        if (!existsSync(pf)) continue;
        const pid = readFileSync(pf, 'utf8').trim();
        await tryRun(`stop ${d} on ${h.name}`, () =>
          this.root('ovs-appctl', ['-t', join(h.dir, 'run', `${d}.${pid}.ctl`), 'exit'], { timeoutMs: 10_000 }),
        );
      }
    }
    await sleep(200);
    for (const n of this.extraNs) await tryRun(`netns ${n}`, () => this.root('ip', ['netns', 'del', n]));
    for (const h of this.hosts) {
      const mnt = join(this.dir, 'ns', `h${h.name}.mnt`);
      await tryRun(`umount ${mnt}`, () => this.root('umount', [mnt]));
      await tryRun(`netns ${h.netns}`, () => this.root('ip', ['netns', 'del', h.netns]));
    }
    await tryRun('netns underlay', () => this.root('ip', ['netns', 'del', this.underlay]));
    if (this.mgmt) await tryRun('netns mgmt', () => this.root('ip', ['netns', 'del', this.mgmtNs]));
    await tryRun('umount ns', () => this.root('umount', [join(this.dir, 'ns')]));
    rmSync(this.dir, { recursive: true, force: true });
    return problems;
  }
}

function findPidFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, depth: number) => {
    if (depth > 6) return;
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, depth + 1);
      else if (e.name === 'pid' || e.name.endsWith('.pid')) out.push(p);
    }
  };
  walk(dir, 0);
  return out;
}
