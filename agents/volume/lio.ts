import type { Runner } from '../../shared/exec/run.js';
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

/**
 * LIO (the kernel target, configured through configfs with `targetcli`), the modern
 * default where the kernel has target_core_mod/iscsi_target_mod. This machine's kernel
 * has neither, so only the argv generation is tested (lio.test.ts); nothing here has
 * run against a real LIO.
 *
 * Layout: backstore `fileio/volume-<id>` (a file) or `block/volume-<id>` (a device),
 * target `<iqn_prefix>:volume-<id>`, tpg1 with CHAP required, LUN 1, one node ACL per
 * initiator carrying that attachment's CHAP credentials (LIO keeps credentials per
 * ACL, so one initiator holds one credential per volume), portal on the target IP.
 * Every change is followed by `saveconfig` so it survives a reboot.
 */
export const lioArgv = {
  backstoreCreate: (volumeId: string, devicePath: string): string[] => {
    const kind = devicePath.startsWith('/dev/') ? 'block' : 'fileio';
    return [
      `/backstores/${kind}`,
      'create',
      `name=volume-${volumeId}`,
      kind === 'block' ? `dev=${devicePath}` : `file_or_dev=${devicePath}`,
    ];
  },
  backstoreDelete: (volumeId: string, devicePath: string): string[] => [
    `/backstores/${devicePath.startsWith('/dev/') ? 'block' : 'fileio'}`,
    'delete',
    `volume-${volumeId}`,
  ],
  targetCreate: (iqn: string): string[] => ['/iscsi', 'create', iqn],
  targetDelete: (iqn: string): string[] => ['/iscsi', 'delete', iqn],
  requireChap: (iqn: string): string[] => [
    `/iscsi/${iqn}/tpg1`,
    'set',
    'attribute',
    'authentication=1',
    'generate_node_acls=0',
    'demo_mode_write_protect=0',
  ],
  lunCreate: (iqn: string, volumeId: string, devicePath: string): string[] => [
    `/iscsi/${iqn}/tpg1/luns`,
    'create',
    `/backstores/${devicePath.startsWith('/dev/') ? 'block' : 'fileio'}/volume-${volumeId}`,
    'lun=1',
  ],
  portalDeleteDefault: (iqn: string): string[] => [`/iscsi/${iqn}/tpg1/portals`, 'delete', '0.0.0.0', '3260'],
  portalCreate: (iqn: string, ip: string, port: number): string[] => [`/iscsi/${iqn}/tpg1/portals`, 'create', ip, String(port)],
  aclCreate: (iqn: string, initiator: string): string[] => [
    `/iscsi/${iqn}/tpg1/acls`,
    'create',
    initiator,
    'add_mapped_luns=true',
  ],
  aclAuth: (iqn: string, initiator: string, auth: ChapAuth): string[] => [
    `/iscsi/${iqn}/tpg1/acls/${initiator}`,
    'set',
    'auth',
    `userid=${auth.username}`,
    `password=${auth.password}`,
  ],
  aclDelete: (iqn: string, initiator: string): string[] => [`/iscsi/${iqn}/tpg1/acls`, 'delete', initiator],
  saveconfig: (): string[] => ['saveconfig'],
  list: (): string[] => ['/iscsi', 'ls', 'depth=1'],
};

export interface LioTargetOptions {
  run: Runner;
  iqnPrefix: string;
  portalIp: string;
  portalPort?: number;
}

export class LioTarget implements IscsiTarget {
  constructor(private readonly o: LioTargetOptions) {}

  private async cli(args: string[], o: { okMissing?: boolean; okExists?: boolean; redact?: string[] } = {}): Promise<string> {
    try {
      return (await this.o.run('targetcli', args, { timeoutMs: 60_000, redact: o.redact })).stdout;
    } catch (e) {
      const m = (e as Error).message;
      if (o.okMissing && /No such|does not exist|not found/i.test(m)) return '';
      if (o.okExists && /already exists|in use/i.test(m)) return '';
      throw new TargetError('TargetError', `targetcli ${args.slice(0, 2).join(' ')}: ${m}`, e);
    }
  }

  async ensureExport(volumeId: string, devicePath: string): Promise<void> {
    const iqn = iqnOf(this.o.iqnPrefix, volumeId);
    await this.cli(lioArgv.backstoreCreate(volumeId, devicePath), { okExists: true });
    try {
      await this.cli(lioArgv.targetCreate(iqn), { okExists: true });
      await this.cli(lioArgv.requireChap(iqn));
      await this.cli(lioArgv.lunCreate(iqn, volumeId, devicePath), { okExists: true });
      await this.cli(lioArgv.portalDeleteDefault(iqn), { okMissing: true });
      await this.cli(lioArgv.portalCreate(iqn, this.o.portalIp, this.o.portalPort ?? 3260), { okExists: true });
      await this.cli(lioArgv.saveconfig());
    } catch (e) {
      await this.cli(lioArgv.targetDelete(iqn), { okMissing: true }).catch(() => {});
      await this.cli(lioArgv.backstoreDelete(volumeId, devicePath), { okMissing: true }).catch(() => {});
      throw e;
    }
  }

  async removeExport(volumeId: string): Promise<void> {
    const iqn = iqnOf(this.o.iqnPrefix, volumeId);
    await this.cli(lioArgv.targetDelete(iqn), { okMissing: true });
    for (const kind of ['fileio', 'block'])
      await this.cli([`/backstores/${kind}`, 'delete', `volume-${volumeId}`], { okMissing: true });
    await this.cli(lioArgv.saveconfig());
  }

  async initializeConnection(volumeId: string, c: Connector, auth: ChapAuth): Promise<IscsiConnectionInfo> {
    const iqn = iqnOf(this.o.iqnPrefix, volumeId);
    await this.cli(lioArgv.aclCreate(iqn, c.initiator), { okExists: true });
    try {
      await this.cli(lioArgv.aclAuth(iqn, c.initiator, auth), { redact: [auth.password] });
      await this.cli(lioArgv.saveconfig());
    } catch (e) {
      await this.cli(lioArgv.aclDelete(iqn, c.initiator), { okMissing: true }).catch(() => {});
      throw e;
    }
    return {
      driver_volume_type: 'iscsi',
      data: {
        target_iqn: iqn,
        target_portal: `${this.o.portalIp}:${this.o.portalPort ?? 3260}`,
        target_lun: 1,
        volume_id: volumeId,
        auth_method: 'CHAP',
        auth_username: auth.username,
        auth_password: auth.password,
        discard: true,
      },
    };
  }

  async terminateConnection(volumeId: string, c: Connector): Promise<void> {
    await this.cli(lioArgv.aclDelete(iqnOf(this.o.iqnPrefix, volumeId), c.initiator), { okMissing: true });
    await this.cli(lioArgv.saveconfig());
  }

  async list(): Promise<TargetExport[]> {
    const out = await this.cli(lioArgv.list());
    const iqns = [...out.matchAll(/o- (\S+) \.+/g)].map((m) => m[1]!);
    return iqns.flatMap((iqn) => {
      const v = volumeOfIqn(this.o.iqnPrefix, iqn);
      return v ? [{ volumeId: v, iqn, devicePath: null, users: [] }] : [];
    });
  }
}
