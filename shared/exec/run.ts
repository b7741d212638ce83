import { execFile } from 'node:child_process';

/**
 * The binaries Homestack may run. Adding a tool means adding it here and writing one
 * module for it under shared/tools/.
 */
export type ToolName =
  | 'virsh'
  | 'qemu-img'
  | 'qemu-system-x86_64'
  | 'genisoimage'
  | 'xorriso'
  | 'lvs'
  | 'vgs'
  | 'pvs'
  | 'lvcreate'
  | 'lvremove'
  | 'lvextend'
  | 'vgcreate'
  | 'pvcreate'
  | 'vgremove'
  | 'lvm'
  | 'tgtadm'
  | 'tgtd'
  | 'targetcli'
  | 'ovs-vsctl'
  | 'ovs-ofctl'
  | 'ovs-appctl'
  | 'ovsdb-server'
  | 'ovs-vswitchd'
  | 'ovsdb-tool'
  | 'ip'
  | 'dnsmasq'
  | 'nft'
  | 'sysctl'
  | 'ethtool'
  | 'libvirtd'
  | 'virtlogd'
  | 'systemctl'
  | 'apt-get'
  | 'update-ca-certificates'
  | 'dpkg-query'
  | 'losetup'
  | 'truncate'
  | 'dd'
  | 'prlimit'
  | 'nsenter'
  | 'kill'
  | 'sync'
  | 'unshare'
  | 'mount'
  | 'umount'
  | 'busybox'
  | 'cp'
  | 'tar'
  | 'sshd'
  | 'ssh-keygen'
  | 'openssl';

export interface RunOptions {
  /** Milliseconds before the process is killed with SIGKILL (default 30 s). */
  timeoutMs?: number;
  /** Written to the process's stdin. */
  input?: string;
  /** Exit codes that count as success (default [0]). */
  okCodes?: readonly number[];
  /** Argument values to hide in logs and errors (passwords, CHAP secrets). */
  redact?: readonly string[];
  /** Extra environment variables (PATH, LC_ALL and LANG are always set). */
  env?: Record<string, string>;
}

export interface RunResult {
  stdout: string;
  stderr: string;
  code: number;
  ms: number;
}

export type Runner = (cmd: ToolName, args: readonly string[], o?: RunOptions) => Promise<RunResult>;

/** A host tool failed: exit code, signal or timeout, with the end of its stderr. */
export class ToolError extends Error {
  constructor(
    readonly cmd: string,
    readonly args: readonly string[],
    readonly code: number | null,
    readonly signal: string | null,
    readonly timedOut: boolean,
    readonly stderrTail: string,
  ) {
    super(`${cmd} ${timedOut ? 'timed out' : `failed (exit ${code ?? signal})`}` + (stderrTail ? `: ${stderrTail}` : ''));
    this.name = 'ToolError';
  }
}

export interface RunLogger {
  debug(obj: object, msg?: string): void;
}

export const TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

function redactArgs(args: readonly string[], redact: readonly string[] | undefined): string[] {
  if (!redact?.length) return [...args];
  return args.map((a) => redact.reduce((s, r) => (r ? s.split(r).join('***') : s), a));
}

/**
 * Builds the runner: execFile with an argument array, never a shell; a fixed
 * environment; a timeout with SIGKILL; a typed error on failure; a debug log line
 * per call with redacted arguments and the duration.
 */
export function makeRunner(log?: RunLogger): Runner {
  return (cmd, args, o = {}) =>
    new Promise((resolve, reject) => {
      const t0 = performance.now();
      const child = execFile(
        cmd,
        args as string[],
        {
          env: { PATH: TOOL_PATH, LC_ALL: 'C', LANG: 'C', ...o.env },
          timeout: o.timeoutMs ?? 30_000,
          killSignal: 'SIGKILL',
          maxBuffer: 16 * 1024 * 1024,
          encoding: 'utf8',
        },
        (err, stdout, stderr) => {
          const ms = Math.round(performance.now() - t0);
          const shown = redactArgs(args, o.redact);
          const e = err as (NodeJS.ErrnoException & { code?: number | string; killed?: boolean; signal?: string }) | null;
          const code = e ? (typeof e.code === 'number' ? e.code : null) : 0;
          log?.debug({ cmd, args: shown, ms, code }, 'exec');
          if (!e || (code !== null && (o.okCodes ?? [0]).includes(code))) {
            resolve({ stdout, stderr, code: code ?? 0, ms });
            return;
          }
          const tail = redactArgs(
            [
              String(stderr || e.message)
                .trim()
                .split('\n')
                .slice(-5)
                .join(' | '),
            ],
            o.redact,
          )[0]!;
          reject(new ToolError(cmd, shown, code, e.signal ?? null, Boolean(e.killed && e.signal === 'SIGKILL'), tail));
        },
      );
      if (o.input !== undefined) child.stdin?.end(o.input);
    });
}
