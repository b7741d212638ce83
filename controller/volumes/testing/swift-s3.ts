import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, kill9, until } from '../../../faults/processes/util.js';

/**
 * A real S3 server for the backup tests: OpenStack Swift from Debian's packages (swift,
 * swift-proxy, swift-account, swift-container, swift-object; 2.30 in bookworm) with its
 * s3api middleware and tempauth, one replica on one device directory, in `dir`. Swift
 * reads its hash prefix from the package's /etc/swift/swift.conf. Credentials: access key
 * `test:tester`, secret `testing`, path-style, region us-east-1.
 */
export const swiftAvailable =
  ['swift-proxy-server', 'swift-object-server', 'swift-ring-builder'].every((b) => spawnSync('which', [b]).status === 0) &&
  existsSync('/etc/swift/swift.conf');

export class SwiftS3 {
  readonly accessKey = 'test:tester';
  readonly secretKey = 'testing';
  port = 0;
  private readonly procs: ChildProcess[] = [];

  constructor(readonly dir: string) {}

  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const etc = join(this.dir, 'etc');
    mkdirSync(join(this.dir, 'srv', 'd1'), { recursive: true });
    mkdirSync(etc, { recursive: true });
    this.port = await freePort();
    const ports: Record<string, number> = {};
    for (const n of ['object', 'container', 'account']) {
      ports[n] = await freePort();
      const ring = (...a: string[]) => {
        const r = spawnSync('swift-ring-builder', [join(etc, `${n}.builder`), ...a], { encoding: 'utf8' });
        if (r.status !== 0 && a[0] !== 'rebalance') throw new Error(`swift-ring-builder ${a.join(' ')}: ${r.stdout}${r.stderr}`);
      };
      ring('create', '4', '1', '1');
      ring('add', `r1z1-127.0.0.1:${ports[n]}/d1`, '100');
      ring('rebalance');
      writeFileSync(
        join(etc, `${n}-server.conf`),
        [
          '[DEFAULT]',
          `devices = ${join(this.dir, 'srv')}`,
          'mount_check = false',
          'bind_ip = 127.0.0.1',
          `bind_port = ${ports[n]}`,
          'workers = 0',
          `swift_dir = ${etc}`,
          '[pipeline:main]',
          `pipeline = ${n}-server`,
          `[app:${n}-server]`,
          `use = egg:swift#${n}`,
          '',
        ].join('\n'),
      );
    }
    writeFileSync(
      join(etc, 'proxy-server.conf'),
      [
        '[DEFAULT]',
        'bind_ip = 127.0.0.1',
        `bind_port = ${this.port}`,
        'workers = 0',
        `swift_dir = ${etc}`,
        '[pipeline:main]',
        'pipeline = catch_errors proxy-logging cache s3api tempauth proxy-logging proxy-server',
        '[app:proxy-server]',
        'use = egg:swift#proxy',
        'account_autocreate = true',
        '[filter:catch_errors]',
        'use = egg:swift#catch_errors',
        '[filter:proxy-logging]',
        'use = egg:swift#proxy_logging',
        '[filter:cache]',
        'use = egg:swift#memcache',
        '[filter:s3api]',
        'use = egg:swift#s3api',
        '[filter:tempauth]',
        'use = egg:swift#tempauth',
        `user_test_tester = ${this.secretKey} .admin`,
        '',
      ].join('\n'),
    );
    for (const n of ['object', 'container', 'account', 'proxy']) {
      const log = openSync(join(this.dir, `${n}.log`), 'a');
      this.procs.push(spawn(`swift-${n}-server`, [join(etc, `${n}-server.conf`)], { stdio: ['ignore', log, log] }));
    }
    // Any HTTP answer from the proxy means it listens (a bare path is a 412).
    await until(
      'the Swift proxy to listen',
      async () => {
        try {
          return (await fetch(`${this.endpoint}/`)).status > 0;
        } catch {
          return false;
        }
      },
      60_000,
      250,
    );
  }

  /**
   * The agent.toml `[backup]` lines for an S3 target in `bucket` on this server (or on
   * `endpoint`, e.g. a proxy in front of it), 1 MiB chunks; the secret key is written
   * 0600 into the server's directory.
   */
  backupLines(bucket: string, endpoint = this.endpoint): string[] {
    mkdirSync(this.dir, { recursive: true });
    const secretFile = join(this.dir, 's3.secret');
    writeFileSync(secretFile, `${this.secretKey}\n`, { mode: 0o600 });
    return [
      '[backup]',
      'target = "s3"',
      'chunk_size_mib = 1',
      `s3_endpoint = "${endpoint}"`,
      `s3_bucket = "${bucket}"`,
      `s3_access_key = "${this.accessKey}"`,
      `s3_secret_key_file = "${secretFile}"`,
      's3_force_path_style = true',
    ];
  }

  async stop(): Promise<void> {
    for (const p of this.procs) await kill9(p);
    if (process.env.KEEP_TEST_DIRS !== '1') rmSync(this.dir, { recursive: true, force: true });
  }
}
