// System test of the Debian cloud image (scripts/build-cloud-image.sh) on a real cloud:
// the controller and one simulated host whose agent runs the compute and network roles
// on its own libvirtd (TCG) and Open vSwitch (faults/real/cloud.ts RealCloud). Boots the
// image through the API with a key pair, #cloud-config user data and a tenant network,
// logs in over SSH as `debian` from the network's DHCP namespace, and checks what
// cloud-init did (from the metadata service, though a config drive is attached) and that the metadata service at 169.254.169.254 answers the guest.
// One boot (a few minutes under TCG); needs root, SYSTEM_TESTS=1, `npm run build`, and
// the image (build/cloud-image/debian-12-cloud.qcow2, or ACC_CLOUD_IMAGE).
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RealCloud, ROOT, realCloudUnavailable } from '../../faults/real/cloud.js';
import { until } from '../../faults/processes/util.js';

const IMAGE = process.env.ACC_CLOUD_IMAGE ?? join(ROOT, 'build/cloud-image/debian-12-cloud.qcow2');
const SKIP = realCloudUnavailable() ?? (existsSync(IMAGE) ? null : `no cloud image at ${IMAGE} (scripts/build-cloud-image.sh)`);
if (SKIP) console.log(`cloud image system test skipped: ${SKIP}`);
const BOOT_MS = Number(process.env.ACC_CLOUD_BOOT_S ?? 900) * 1000;

describe.skipIf(!!SKIP)('Debian cloud image on a real cloud', () => {
  let c: RealCloud;
  const dir = mkdtempSync(join(tmpdir(), 'cloud-image-test-'));
  const figures: Record<string, number | string> = {};
  let serverId = '';
  let networkId = '';
  let ns = '';
  let fixed = '';
  const name = `cg-${Date.now().toString(36)}`;

  /**
   * A command in the guest over SSH as `user`, from the network's DHCP namespace on the
   * host. Retried while SSH itself fails (exit 255: a TCG guest on a busy machine can
   * miss the banner exchange), up to `timeoutMs` in all.
   */
  const ssh = async (cmd: string, user = 'debian', o: { okCodes?: number[]; timeoutMs?: number } = {}) => {
    const end = Date.now() + (o.timeoutMs ?? 180_000);
    for (;;) {
      const r = await c.host.run(
        'ip',
        [
          'netns',
          'exec',
          ns,
          'ssh',
          '-i',
          join(dir, 'key'),
          '-o',
          'StrictHostKeyChecking=no',
          '-o',
          'UserKnownHostsFile=/dev/null',
          '-o',
          'ConnectTimeout=15',
          '-o',
          'ServerAliveInterval=15',
          '-o',
          'BatchMode=yes',
          '-o',
          'LogLevel=ERROR',
          `${user}@${fixed}`,
          cmd,
        ],
        { timeoutMs: Math.max(30_000, end - Date.now()), okCodes: [...(o.okCodes ?? [0]), 255] },
      );
      if (r.code !== 255 || Date.now() > end) {
        if (r.code === 255) throw new Error(`ssh ${user}@${fixed} ${cmd}: ${r.stderr.trim()}`);
        return r;
      }
      await new Promise((res) => setTimeout(res, 3000));
    }
  };

  beforeAll(async () => {
    // The config drive is attached (force_config_drive, the default): cloud-init must still take the
    // metadata service first (the image's ds-identify policy), the drive being only its fallback.
    c = await RealCloud.start({ controllerCompute: ['ram_allocation_ratio = 4'] });
    ({ networkId } = await c.basics());
    await c.host.run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', join(dir, 'key')]);
    const kp = await c.api('POST', '/compute/v2.1/os-keypairs', {
      keypair: { name, public_key: readFileSync(join(dir, 'key.pub'), 'utf8').trim() },
    });
    expect(kp.status).toBe(200);
    const groups = await c.api('GET', `/network/v2.0/security-groups?name=default&project_id=${c.projectId}`);
    for (const rule of [{ protocol: 'tcp', port_range_min: 22, port_range_max: 22 }, { protocol: 'icmp' }]) {
      const r = await c.api('POST', '/network/v2.0/security-group-rules', {
        security_group_rule: {
          security_group_id: groups.body.security_groups[0].id,
          direction: 'ingress',
          ethertype: 'IPv4',
          ...rule,
        },
      });
      expect(r.status).toBe(201);
    }
    const img = await c.api('POST', '/image/v2/images', {
      name: 'debian-12-cloud',
      disk_format: 'qcow2',
      container_format: 'bare',
    });
    const t0 = Date.now();
    expect((await c.api('PUT', `/image/v2/images/${img.body.id}/file`, readFileSync(IMAGE))).status).toBe(204);
    figures.image_upload_s = Math.round((Date.now() - t0) / 100) / 10;
    // The smallest flavor Debian's image is happy with under TCG; a 3 GiB disk to grow into.
    const fl = await c.api('POST', '/compute/v2.1/flavors', { flavor: { name: `${name}-f`, ram: 512, vcpus: 1, disk: 3 } });
    const userData = [
      '#cloud-config',
      'write_files:',
      '  - path: /etc/hs-marker',
      `    content: "HS-WRITE-${name}\\n"`,
      'runcmd:',
      `  - [ sh, -c, "echo HS-RUNCMD-${name} > /var/tmp/hs-runcmd" ]`,
      '',
    ].join('\n');
    const created = Date.now();
    const s = await c.api('POST', '/compute/v2.1/servers', {
      server: {
        name,
        imageRef: img.body.id,
        flavorRef: fl.body.flavor.id,
        key_name: name,
        networks: [{ uuid: networkId }],
        user_data: Buffer.from(userData).toString('base64'),
      },
    });
    expect(s.status).toBe(202);
    serverId = s.body.server.id;
    await until('the server ACTIVE', async () => (await c.server(serverId)).status === 'ACTIVE', 300_000, 1000);
    figures.create_to_active_s = Math.round((Date.now() - created) / 1000);
    const addr = (await c.server(serverId)).addresses;
    fixed = String(Object.values(addr as Record<string, Array<{ addr: string }>>)[0]![0]!.addr);
    ns = `qdhcp-${networkId}`;
    await until(
      'SSH answering as debian with the key pair',
      async () => (await ssh('true', 'debian', { timeoutMs: 1 })).code === 0,
      BOOT_MS,
      3000,
    ).catch(async (e: Error) => {
      const out = (await c.api('POST', `/compute/v2.1/servers/${serverId}/action`, { 'os-getConsoleOutput': { length: 60 } }))
        .body?.output;
      throw new Error(`${e.message}\nconsole:\n${out}`);
    });
    figures.create_to_ssh_s = Math.round((Date.now() - created) / 1000);
  }, BOOT_MS + 600_000);

  afterAll(async () => {
    console.log(`[figures] ${JSON.stringify(figures)}`);
    if (c && process.env.KEEP_TEST_DIRS !== '1') {
      const problems = await c.close();
      if (problems.length) console.log(`teardown: ${problems.join('; ')}`);
    }
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);

  it(
    'cloud-init finished without errors, from the metadata service (datasource OpenStack)',
    async () => {
      const status = (await ssh('cloud-init status --wait --long', 'debian', { okCodes: [0, 1, 2], timeoutMs: BOOT_MS })).stdout;
      expect(status).toMatch(/status: done/);
      expect(status).not.toMatch(/errors: \[[^\]]/);
      expect((await ssh('cloud-id')).stdout.trim()).toBe('openstack');
      // ... with a config drive there to fall back on (ds-identify's default policy would have taken it)
      expect((await ssh('sudo blkid -t LABEL=config-2 -o device', 'debian', { okCodes: [0, 2] })).stdout.trim()).toMatch(
        /^\/dev\//,
      );
      const log = (await ssh('sudo cat /var/log/cloud-init.log')).stdout;
      expect(log).not.toMatch(/Traceback|\[ERROR\]|\[CRITICAL\]/);
    },
    BOOT_MS,
  );

  it('applied the server name, the user data and the network, and grew the disk', async () => {
    expect((await ssh('hostname')).stdout.trim()).toBe(name);
    expect((await ssh('cat /etc/hs-marker')).stdout.trim()).toBe(`HS-WRITE-${name}`);
    expect((await ssh('cat /var/tmp/hs-runcmd')).stdout.trim()).toBe(`HS-RUNCMD-${name}`);
    expect((await ssh('ip -4 -o addr show')).stdout).toContain(`${fixed}/24`);
    expect((await ssh("ip -o link show | grep -v ' lo:'")).stdout).toContain('mtu 1450');
    expect(Number((await ssh('df -B1 --output=size / | tail -n 1')).stdout.trim())).toBeGreaterThan(2.8e9);
  }, 600_000);

  it('reads its own data at 169.254.169.254 (OpenStack and EC2 paths); the namespace itself, no instance, gets 404', async () => {
    const md = JSON.parse((await ssh('curl -s -m 10 http://169.254.169.254/openstack/latest/meta_data.json')).stdout);
    expect(md.uuid).toBe(serverId);
    expect(md.public_keys[name]).toMatch(/^ssh-ed25519 /);
    // Nova's shape for a DHCP subnet: the link (MAC, MTU) and `ipv4_dhcp`, no address.
    const nd = JSON.parse((await ssh('curl -s -m 10 http://169.254.169.254/openstack/latest/network_data.json')).stdout);
    expect(nd.links[0]).toMatchObject({ type: 'ovs', mtu: 1450 });
    expect(nd.networks[0]).toMatchObject({ type: 'ipv4_dhcp', link: nd.links[0].id, network_id: networkId });
    expect((await ssh('curl -s -m 10 http://169.254.169.254/latest/meta-data/local-ipv4')).stdout).toBe(fixed);
    expect((await ssh('curl -s -m 10 http://169.254.169.254/latest/meta-data/instance-id')).stdout).toMatch(/^i-[0-9a-f]{8}$/);
    const fromNs = await c.host.run(
      'ip',
      [
        'netns',
        'exec',
        ns,
        'curl',
        '-s',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code}',
        '-m',
        '10',
        'http://169.254.169.254/openstack/latest/meta_data.json',
      ],
      { okCodes: [0, 7, 28] },
    );
    expect(fromNs.stdout).toBe('404');
  }, 600_000);
});
