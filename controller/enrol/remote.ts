import { Client, type ConnectConfig } from 'ssh2';
import { fingerprint } from './known-hosts.js';

/** One argument for the remote POSIX shell: single-quoted, quotes escaped. */
export const shQuote = (s: string): string => (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

/** A command line for the remote shell from an argument array (never a string with user input). */
export const shJoin = (argv: readonly string[]): string => argv.map(shQuote).join(' ');

export class RemoteError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
    readonly stderr: string,
  ) {
    super(message);
  }
}

export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RemoteOptions {
  host: string;
  port: number;
  username: string;
  privateKey?: Buffer;
  password?: string;
  /** Decides on the presented host key (fingerprint "SHA256:…" and the raw blob): true to trust. */
  verifyHostKey: (fp: string, key: Buffer) => boolean;
  timeoutMs?: number;
}

/** An SSH session to a host being enrolled (ssh2): commands as argument arrays, with timeouts. */
export class Remote {
  private constructor(
    private readonly c: Client,
    readonly hostKeyFingerprint: string,
  ) {}

  static connect(o: RemoteOptions): Promise<Remote> {
    return new Promise((resolve, reject) => {
      const c = new Client();
      let fp = '';
      let refused = false;
      const cfg: ConnectConfig = {
        host: o.host,
        port: o.port,
        username: o.username,
        readyTimeout: o.timeoutMs ?? 20_000,
        ...(o.privateKey ? { privateKey: o.privateKey } : {}),
        ...(o.password !== undefined ? { password: o.password } : {}),
        hostVerifier: (key: Buffer) => {
          fp = fingerprint(key);
          const ok = o.verifyHostKey(fp, key);
          refused = !ok;
          return ok;
        },
      };
      c.once('ready', () => resolve(new Remote(c, fp)));
      c.once('error', (e) => reject(refused ? new RemoteError(`host key ${fp} of ${o.host} is not trusted`, null, '') : e));
      c.connect(cfg);
    });
  }

  /** Runs argv through the remote shell; stdin (e.g. a secret) never appears in argv. */
  exec(
    argv: readonly string[],
    o: { stdin?: Buffer | string | NodeJS.ReadableStream; timeoutMs?: number; allowFail?: boolean } = {},
  ): Promise<ExecResult> {
    const cmd = shJoin(argv);
    return new Promise((resolve, reject) => {
      this.c.exec(cmd, (err, ch) => {
        if (err) return reject(err);
        const out: Buffer[] = [];
        const errb: Buffer[] = [];
        const timer = setTimeout(() => {
          ch.close();
          reject(new RemoteError(`${argv[0]} timed out after ${o.timeoutMs ?? 120_000} ms`, null, ''));
        }, o.timeoutMs ?? 120_000);
        ch.on('data', (d: Buffer) => out.push(d));
        ch.stderr.on('data', (d: Buffer) => errb.push(d));
        ch.on('close', (code: number | null) => {
          clearTimeout(timer);
          const r = { code: code ?? -1, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(errb).toString() };
          if (r.code !== 0 && !o.allowFail)
            reject(
              new RemoteError(
                `${argv[0]} exited ${r.code}: ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`,
                r.code,
                r.stderr,
              ),
            );
          else resolve(r);
        });
        if (o.stdin === undefined) ch.end();
        else if (typeof o.stdin === 'string' || Buffer.isBuffer(o.stdin)) ch.end(o.stdin);
        else (o.stdin as NodeJS.ReadableStream).pipe(ch);
      });
    });
  }

  close(): void {
    this.c.end();
  }
}
