import { ToolError, type Runner } from '../exec/run.js';

/**
 * tgtadm (the user-space tgt iSCSI target, house style 3.5): the one module that runs
 * it. tgtadm has no machine-readable output, so `--op show` is parsed in exactly one
 * function (`parseTgtShow`), tested on output captured from a running tgtd.
 *
 * tgtd keeps its configuration in memory only: targets, LUNs, accounts and ACLs are
 * gone when tgtd restarts, which is why the volume agent re-creates every export at
 * start and the controller re-sends every connection (ensure rather than create).
 */

export interface TgtLun {
  lun: number;
  /** "disk" or "controller" (LUN 0). */
  type: string;
  backingStore: string | null;
  /** Size as tgtadm prints it (MB, rounded). */
  sizeMb: number | null;
}

export interface TgtTarget {
  tid: number;
  iqn: string;
  luns: TgtLun[];
  /** CHAP (incoming) accounts bound to the target. */
  accounts: string[];
  /** Initiator addresses and names allowed in (tgt lets an initiator in when any entry matches). */
  acls: string[];
  /** Number of I_T nexuses (logged-in sessions). */
  sessions: number;
}

export interface TgtShow {
  targets: TgtTarget[];
  /** From `--mode account --op show`. */
  accounts: string[];
}

export class TgtError extends Error {
  constructor(
    readonly code: 'TargetNotFound' | 'Exists' | 'AccountNotFound' | 'AclNotFound' | 'Busy' | 'Failed',
    message: string,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'TgtError';
  }
}

const IQN_RE = /^(iqn|eui|naa)\.[A-Za-z0-9.:_-]{1,200}$/;
const USER_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const PASS_RE = /^[A-Za-z0-9_.+=/-]{12,64}$/;
const ADDR_RE = /^(ALL|[0-9a-fA-F.:]{2,45}(\/[0-9]{1,3})?)$/;

const checkIqn = (s: string) => {
  if (!IQN_RE.test(s)) throw new TgtError('Failed', `bad iSCSI name ${JSON.stringify(s)}`);
  return s;
};
const checkTid = (n: number) => {
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new TgtError('Failed', `bad tid ${n}`);
  return String(n);
};
const checkUser = (s: string) => {
  if (!USER_RE.test(s)) throw new TgtError('Failed', `bad CHAP user ${JSON.stringify(s)}`);
  return s;
};
const checkPath = (p: string) => {
  if (!p.startsWith('/') || /[\0\n\r]/.test(p) || p.length > 4096)
    throw new TgtError('Failed', `bad backing store ${JSON.stringify(p)}`);
  return p;
};

/**
 * Parses `tgtadm --lld iscsi --mode target --op show` and/or `--mode account --op show`
 * output (both may be concatenated). Tolerates unknown lines.
 */
export function parseTgtShow(text: string): TgtShow {
  const targets: TgtTarget[] = [];
  const accounts: string[] = [];
  let t: TgtTarget | null = null;
  let lun: TgtLun | null = null;
  let section: 'none' | 'nexus' | 'lun' | 'account' | 'acl' | 'system' | 'accountlist' = 'none';
  for (const raw of text.split('\n')) {
    const line = raw.replace(/\s+$/, '');
    if (!line.trim()) continue;
    const indent = line.length - line.trimStart().length;
    const s = line.trim();
    const tm = /^Target (\d+): (\S+)$/.exec(line);
    if (tm && indent === 0) {
      t = { tid: Number(tm[1]), iqn: tm[2]!, luns: [], accounts: [], acls: [], sessions: 0 };
      targets.push(t);
      section = 'none';
      lun = null;
      continue;
    }
    if (indent === 0 && s === 'Account list:') {
      section = 'accountlist';
      t = null;
      continue;
    }
    if (section === 'accountlist') {
      if (indent > 0) accounts.push(s);
      continue;
    }
    if (!t) continue;
    if (indent === 4) {
      if (s === 'System information:') section = 'system';
      else if (s === 'I_T nexus information:') section = 'nexus';
      else if (s === 'LUN information:') section = 'lun';
      else if (s === 'Account information:') section = 'account';
      else if (s === 'ACL information:') section = 'acl';
      else section = 'none';
      continue;
    }
    switch (section) {
      case 'nexus':
        if (/^I_T nexus: \d+/.test(s)) t.sessions++;
        break;
      case 'lun': {
        const lm = /^LUN: (\d+)$/.exec(s);
        if (lm) {
          lun = { lun: Number(lm[1]), type: '', backingStore: null, sizeMb: null };
          t.luns.push(lun);
          break;
        }
        if (!lun) break;
        const kv = /^([^:]+):\s?(.*)$/.exec(s);
        if (!kv) break;
        const [, k, v] = kv;
        if (k === 'Type') lun.type = v!;
        else if (k === 'Backing store path') lun.backingStore = v === 'None' || v === '' ? null : v!;
        else if (k === 'Size') {
          const m = /^(\d+) MB/.exec(v!);
          lun.sizeMb = m ? Number(m[1]) : null;
        }
        break;
      }
      case 'account':
        if (indent >= 8) t.accounts.push(s.replace(/ \(outgoing\)$/, ''));
        break;
      case 'acl':
        if (indent >= 8) t.acls.push(s);
        break;
      default:
        break;
    }
  }
  return { targets, accounts };
}

/** Maps tgtadm's messages to typed errors. */
function mapError(e: unknown, what: string): never {
  if (e instanceof ToolError) {
    const m = e.stderrTail;
    if (/can't find the target/i.test(m)) throw new TgtError('TargetNotFound', `${what}: ${m}`, e);
    if (/can't find the account/i.test(m)) throw new TgtError('AccountNotFound', `${what}: ${m}`, e);
    if (/access control rule does not exist/i.test(m)) throw new TgtError('AclNotFound', `${what}: ${m}`, e);
    if (/already exists/i.test(m)) throw new TgtError('Exists', `${what}: ${m}`, e);
    if (/busy|in use/i.test(m)) throw new TgtError('Busy', `${what}: ${m}`, e);
    throw new TgtError('Failed', `${what}: ${m || e.message}`, e);
  }
  throw e;
}

/** `controlPort`: the management port of a tgtd started with `--control-port N` (default: tgtd's own). */
export const tgtadm = (run: Runner, o: { timeoutMs?: number; controlPort?: number } = {}) => {
  const t = o.timeoutMs ?? 20_000;
  const port = o.controlPort !== undefined ? ['-C', String(o.controlPort)] : [];
  const exec = async (args: string[], what: string, redact?: string[]) => {
    try {
      return (await run('tgtadm', [...port, '--lld', 'iscsi', ...args], { timeoutMs: t, redact })).stdout;
    } catch (e) {
      return mapError(e, what);
    }
  };
  return {
    /** Every target with its LUNs, accounts and ACLs, plus the account list. Read-only. */
    async show(): Promise<TgtShow> {
      const targets = await exec(['--mode', 'target', '--op', 'show'], 'show targets');
      const accounts = await exec(['--mode', 'account', '--op', 'show'], 'show accounts');
      return parseTgtShow(`${targets}\n${accounts}`);
    },
    newTarget: (tid: number, iqn: string) =>
      exec(['--mode', 'target', '--op', 'new', '--tid', checkTid(tid), '--targetname', checkIqn(iqn)], `new target ${iqn}`).then(
        () => {},
      ),
    /** --force: also when initiators are logged in (their sessions drop). */
    deleteTarget: (tid: number, force = true) =>
      exec(
        ['--mode', 'target', '--op', 'delete', ...(force ? ['--force'] : []), '--tid', checkTid(tid)],
        `delete target ${tid}`,
      ).then(() => {}),
    newLun: (tid: number, lun: number, backingStore: string) =>
      exec(
        [
          '--mode',
          'logicalunit',
          '--op',
          'new',
          '--tid',
          checkTid(tid),
          '--lun',
          String(lun),
          '--backing-store',
          checkPath(backingStore),
        ],
        `new LUN ${lun} of target ${tid}`,
      ).then(() => {}),
    newAccount: (user: string, password: string) => {
      if (!PASS_RE.test(password)) throw new TgtError('Failed', 'bad CHAP password (12-64 characters of [A-Za-z0-9_.+=/-])');
      return exec(
        ['--mode', 'account', '--op', 'new', '--user', checkUser(user), '--password', password],
        `new account ${user}`,
        [password],
      ).then(() => {});
    },
    deleteAccount: (user: string) =>
      exec(['--mode', 'account', '--op', 'delete', '--user', checkUser(user)], `delete account ${user}`).then(() => {}),
    bindAccount: (tid: number, user: string) =>
      exec(
        ['--mode', 'account', '--op', 'bind', '--tid', checkTid(tid), '--user', checkUser(user)],
        `bind account ${user} to ${tid}`,
      ).then(() => {}),
    unbindAccount: (tid: number, user: string) =>
      exec(
        ['--mode', 'account', '--op', 'unbind', '--tid', checkTid(tid), '--user', checkUser(user)],
        `unbind account ${user} from ${tid}`,
      ).then(() => {}),
    /** An initiator address (or ALL) or an initiator IQN allowed into the target. */
    bindInitiator: (tid: number, who: string) =>
      exec(['--mode', 'target', '--op', 'bind', '--tid', checkTid(tid), ...initiatorArgs(who)], `allow ${who} into ${tid}`).then(
        () => {},
      ),
    unbindInitiator: (tid: number, who: string) =>
      exec(
        ['--mode', 'target', '--op', 'unbind', '--tid', checkTid(tid), ...initiatorArgs(who)],
        `disallow ${who} from ${tid}`,
      ).then(() => {}),
  };
};

function initiatorArgs(who: string): string[] {
  if (IQN_RE.test(who)) return ['--initiator-name', who];
  if (ADDR_RE.test(who)) return ['--initiator-address', who];
  throw new TgtError('Failed', `bad initiator ${JSON.stringify(who)}`);
}

export type Tgtadm = ReturnType<typeof tgtadm>;
