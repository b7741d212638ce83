import type { Runner } from '../../shared/exec/run.js';
import { tgtadm, TgtError, type TgtShow } from '../../shared/tools/tgtadm.js';
import {
  iqnOf,
  TargetError,
  volumeOfIqn,
  type ChapAuth,
  type Connector,
  type IscsiConnectionInfo,
  type IscsiTarget,
  type TargetExport,
} from './target.js';

export interface TgtTargetOptions {
  run: Runner;
  iqnPrefix: string;
  /** Portal address given to initiators (host:3260). */
  portalIp: string;
  portalPort?: number;
  /** tgtd's management port when it is not the default one (a private tgtd: `tgtd -C N`). */
  controlPort?: number;
}

/**
 * tgt (user-space target daemon, driven with tgtadm): one target per volume, LUN 1 on
 * the back end's device path, one CHAP account per attachment, ACL = the connector's
 * initiator name and address (tgt lets an initiator in when any ACL entry matches; the
 * per-attachment CHAP secret is what really keeps others out). tgtd must be running.
 *
 * Every change is serialised in this process (tids are allocated from `show`).
 */
export class TgtTarget implements IscsiTarget {
  private readonly tgt;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly o: TgtTargetOptions) {
    this.tgt = tgtadm(o.run, { controlPort: o.controlPort });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const p = this.chain.then(fn, fn);
    this.chain = p.catch(() => {});
    return p;
  }

  private wrap(e: unknown, what: string): never {
    if (e instanceof TargetError) throw e;
    throw new TargetError('TargetError', `${what}: ${(e as Error).message}`, e);
  }

  private async findTarget(volumeId: string, show?: TgtShow) {
    const s = show ?? (await this.tgt.show());
    return { show: s, t: s.targets.find((t) => t.iqn === iqnOf(this.o.iqnPrefix, volumeId)) ?? null };
  }

  ensureExport(volumeId: string, devicePath: string): Promise<void> {
    return this.serial(async () => {
      try {
        const { show, t } = await this.findTarget(volumeId);
        if (t) {
          const lun = t.luns.find((l) => l.lun === 1);
          if (lun?.backingStore === devicePath) return;
          await this.tgt.deleteTarget(t.tid, true);
        }
        // tids are host-wide: another tgtadm user may take ours between show and new.
        let tid = Math.max(0, ...show.targets.map((x) => x.tid)) + 1;
        for (let attempt = 0; ; attempt++) {
          try {
            await this.tgt.newTarget(tid, iqnOf(this.o.iqnPrefix, volumeId));
            break;
          } catch (e) {
            if (!(e instanceof TgtError && e.code === 'Exists') || attempt >= 5) throw e;
            const again = await this.findTarget(volumeId);
            if (again.t) return this.ensureLun(again.t.tid, devicePath);
            tid = Math.max(tid, ...again.show.targets.map((x) => x.tid)) + 1;
          }
        }
        try {
          await this.tgt.newLun(tid, 1, devicePath);
        } catch (e) {
          await this.tgt.deleteTarget(tid, true).catch(() => {});
          throw e;
        }
      } catch (e) {
        this.wrap(e, `export volume ${volumeId}`);
      }
    });
  }

  /** LUN 1 of an existing target (a target made by someone else racing us). */
  private async ensureLun(tid: number, devicePath: string): Promise<void> {
    const t = (await this.tgt.show()).targets.find((x) => x.tid === tid);
    if (t?.luns.some((l) => l.lun === 1 && l.backingStore === devicePath)) return;
    await this.tgt.newLun(tid, 1, devicePath);
  }

  removeExport(volumeId: string): Promise<void> {
    return this.serial(async () => {
      try {
        const { t } = await this.findTarget(volumeId);
        if (!t) return;
        await this.tgt.deleteTarget(t.tid, true).catch((e) => {
          if (!(e instanceof TgtError && e.code === 'TargetNotFound')) throw e;
        });
        for (const u of t.accounts)
          await this.tgt.deleteAccount(u).catch((e) => {
            if (!(e instanceof TgtError && e.code === 'AccountNotFound')) throw e;
          });
      } catch (e) {
        this.wrap(e, `remove the export of volume ${volumeId}`);
      }
    });
  }

  private aclOf(c: Connector): string[] {
    return [c.initiator, ...(c.address ? [c.address] : [])];
  }

  initializeConnection(volumeId: string, c: Connector, auth: ChapAuth): Promise<IscsiConnectionInfo> {
    return this.serial(async () => {
      const undo: Array<() => Promise<void>> = [];
      try {
        const { show, t } = await this.findTarget(volumeId);
        if (!t) throw new TargetError('TargetError', `volume ${volumeId} is not exported`);
        // tgtadm cannot change a password: re-create the account when it exists.
        if (show.accounts.includes(auth.username)) await this.tgt.deleteAccount(auth.username);
        await this.tgt.newAccount(auth.username, auth.password);
        undo.push(() => this.tgt.deleteAccount(auth.username));
        await this.tgt.bindAccount(t.tid, auth.username);
        for (const who of this.aclOf(c)) {
          if (t.acls.includes(who)) continue;
          await this.tgt.bindInitiator(t.tid, who);
          undo.push(() => this.tgt.unbindInitiator(t.tid, who));
        }
        return {
          driver_volume_type: 'iscsi' as const,
          data: {
            target_iqn: t.iqn,
            target_portal: `${this.o.portalIp.includes(':') ? `[${this.o.portalIp}]` : this.o.portalIp}:${this.o.portalPort ?? 3260}`,
            target_lun: 1,
            volume_id: volumeId,
            auth_method: 'CHAP',
            auth_username: auth.username,
            auth_password: auth.password,
            discard: true,
          },
        };
      } catch (e) {
        for (const u of undo.reverse()) await u().catch(() => {});
        this.wrap(e, `connect volume ${volumeId}`);
      }
    });
  }

  terminateConnection(volumeId: string, c: Connector, auth: ChapAuth): Promise<void> {
    return this.serial(async () => {
      try {
        const { show, t } = await this.findTarget(volumeId);
        if (t && t.accounts.includes(auth.username)) await this.unbindAccount(t.tid, t.accounts, auth.username);
        if (show.accounts.includes(auth.username))
          await this.tgt.deleteAccount(auth.username).catch((e) => {
            if (!(e instanceof TgtError && e.code === 'AccountNotFound')) throw e;
          });
        if (!t) return;
        // Keep the ACL entry while another attachment of the same initiator remains.
        const others = t.accounts.filter((u) => u !== auth.username);
        if (others.length) return;
        for (const who of this.aclOf(c)) {
          if (!t.acls.includes(who)) continue;
          await this.tgt.unbindInitiator(t.tid, who).catch((e) => {
            if (!(e instanceof TgtError && e.code === 'AclNotFound')) throw e;
          });
        }
      } catch (e) {
        this.wrap(e, `disconnect volume ${volumeId}`);
      }
    });
  }

  /**
   * Unbinds one CHAP account from a target. tgtd 1.0.85 segfaults (`tgtadm --op show
   * --mode target`, or the delete that follows) once the first of several accounts bound
   * to a target is unbound or deleted — as when a live-migrated volume's source
   * attachment goes while the destination's is bound after it. So the accounts are
   * unbound from the last one back (each is then the tail of tgtd's list) and the others
   * bound again in their order. Sessions already logged in are not affected by either.
   */
  private async unbindAccount(tid: number, bound: string[], user: string): Promise<void> {
    const drop = async (u: string) =>
      this.tgt.unbindAccount(tid, u).catch((e) => {
        if (!(e instanceof TgtError && e.code === 'AccountNotFound')) throw e;
      });
    if (bound.at(-1) === user) return drop(user);
    const i = bound.indexOf(user);
    const after = bound.slice(i);
    for (const u of [...after].reverse()) await drop(u);
    for (const u of after.slice(1)) await this.tgt.bindAccount(tid, u);
  }

  async list(): Promise<TargetExport[]> {
    const s = await this.tgt.show();
    return s.targets.flatMap((t) => {
      const v = volumeOfIqn(this.o.iqnPrefix, t.iqn);
      return v
        ? [{ volumeId: v, iqn: t.iqn, devicePath: t.luns.find((l) => l.lun === 1)?.backingStore ?? null, users: t.accounts }]
        : [];
    });
  }
}
