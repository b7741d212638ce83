import { randomBytes } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tapName, type IscsiConnectionInfo, type VifSpec } from '../../shared/agent/compute.js';
import { VirshError } from '../../shared/tools/virsh.js';
import { diskXml, interfaceXml, iscsiSecretXml, portAlias, volumeAlias, type DomainNic, type IscsiDisk } from './domain-xml.js';
import { nextVirtioTarget } from './domain-read.js';
import { BadSpec, HypervisorFault, stepFailed } from './errors.js';
import { factsOf, mustLookup, sleep, virState, volumeSecret, type LibvirtCtx } from './libvirt-ctx.js';
import { VIR } from './libvirt-state.js';
import { Reverter } from '../../shared/util/reverter.js';

/**
 * Volumes and NICs through virsh attach-device / detach-device-alias (the binding has
 * no device calls). Changes go to the live domain when it runs and always to its
 * persistent config, so they survive a stop/start.
 */

/** Writes a private scratch file, runs fn with its path, removes it whatever happens. */
export async function withTempFile<T>(c: LibvirtCtx, name: string, content: string, fn: (p: string) => Promise<T>): Promise<T> {
  await mkdir(c.tmpDir, { recursive: true, mode: 0o700 });
  const p = join(c.tmpDir, `${randomBytes(6).toString('hex')}-${name}`);
  await writeFile(p, content, { mode: 0o600 });
  try {
    return await fn(p);
  } finally {
    await rm(p, { force: true });
  }
}

/** host:port / [v6]:port → parts (port 3260 by default). */
export function parsePortal(portal: string): { host: string; port: number } {
  const m = /^\[([0-9a-fA-F:.]+)\](?::(\d+))?$/.exec(portal) ?? /^([^:\s]+)(?::(\d+))?$/.exec(portal);
  if (!m) throw new BadSpec(`bad iSCSI portal ${JSON.stringify(portal)}`);
  const port = m[2] ? Number(m[2]) : 3260;
  if (!(port > 0 && port < 65536)) throw new BadSpec(`bad iSCSI portal port in ${portal}`);
  return { host: m[1]!, port };
}

/**
 * Defines the CHAP secret for a volume and sets its value (through a 0600 file, never
 * argv). Returns the usage name the disk refers to, or undefined without CHAP.
 */
export async function ensureChapSecret(c: LibvirtCtx, conn: IscsiConnectionInfo, r: Reverter): Promise<IscsiDisk['auth']> {
  const d = conn.data;
  if (!d.auth_username || !d.auth_password || (d.auth_method && d.auth_method.toUpperCase() !== 'CHAP')) return undefined;
  const s = volumeSecret(d.volume_id);
  await withTempFile(c, 'secret.xml', iscsiSecretXml(s.uuid, s.usage, `CHAP secret of volume ${d.volume_id}`), (p) =>
    c.virsh.secretDefine(p),
  );
  r.add('undefine CHAP secret', () => c.virsh.secretUndefine(s.uuid));
  await withTempFile(c, 'secret.value', d.auth_password, (p) => c.virsh.secretSetValue(s.uuid, p));
  return { username: d.auth_username, secretUsage: s.usage };
}

export function iscsiDisk(conn: IscsiConnectionInfo, target: string, auth: IscsiDisk['auth'], bootOrder?: number): IscsiDisk {
  const { host, port } = parsePortal(conn.data.target_portal);
  return {
    kind: 'iscsi',
    iqn: conn.data.target_iqn,
    lun: conn.data.target_lun,
    host,
    port,
    auth,
    bus: 'virtio',
    target,
    volumeId: conn.data.volume_id,
    discard: conn.data.discard,
    bootOrder,
  };
}

const liveFlags = async (c: LibvirtCtx, uuid: string) => {
  const dom = await mustLookup(c, uuid);
  const s = await virState(dom);
  return { dom, flags: { live: s === VIR.RUNNING || s === VIR.PAUSED || s === VIR.BLOCKED, config: true } };
};

export async function attachVolume(
  c: LibvirtCtx,
  uuid: string,
  conn: IscsiConnectionInfo,
  device: string | null,
): Promise<string> {
  const { dom, flags } = await liveFlags(c, uuid);
  const facts = await factsOf(dom);
  const existing = facts.volumes[conn.data.volume_id];
  if (existing) return `/dev/${existing}`;
  let target = device ? device.replace(/^\/dev\//, '') : nextVirtioTarget(facts.targets);
  if (facts.targets.includes(target)) target = nextVirtioTarget(facts.targets);
  const r = new Reverter();
  try {
    const auth = await ensureChapSecret(c, conn, r);
    await withTempFile(c, 'disk.xml', diskXml(iscsiDisk(conn, target, auth)), (p) => c.virsh.attachDevice(uuid, p, flags));
    r.success();
    return `/dev/${target}`;
  } catch (e) {
    await r.revert();
    throw stepFailed('HypervisorError', `attach volume ${conn.data.volume_id}`, e);
  }
}

/** How long a live detach waits for the guest to release the device (PCI unplug needs its ack). */
const DETACH_WAIT_MS = 30_000;

/**
 * Waits until `present(facts)` is false in the live XML; a guest that never acks
 * gets a retryable DetachTimeout (the persistent config no longer has the device, so
 * the next stop/start drops it anyway).
 */
async function waitGone(
  c: LibvirtCtx,
  uuid: string,
  what: string,
  present: (f: Awaited<ReturnType<typeof factsOf>>) => boolean,
): Promise<void> {
  const end = Date.now() + DETACH_WAIT_MS;
  for (;;) {
    const dom = await c.conn.lookup(uuid);
    if (!dom || !present(await factsOf(dom))) return;
    if (Date.now() >= end)
      throw new HypervisorFault('DetachTimeout', `the guest has not released ${what} after ${DETACH_WAIT_MS / 1000} s`, true);
    await sleep(250);
  }
}

export async function detachVolume(c: LibvirtCtx, uuid: string, volumeId: string): Promise<boolean> {
  const { dom, flags } = await liveFlags(c, uuid);
  const facts = await factsOf(dom);
  if (!facts.volumes[volumeId]) {
    await c.virsh.secretUndefine(volumeSecret(volumeId).uuid);
    return false;
  }
  try {
    await c.virsh.detachDeviceAlias(uuid, volumeAlias(volumeId), flags);
  } catch (e) {
    if (!(e instanceof VirshError && e.notFound)) throw stepFailed('HypervisorError', `detach volume ${volumeId}`, e);
  }
  if (flags.live) await waitGone(c, uuid, `volume ${volumeId}`, (f) => Boolean(f.volumes[volumeId]));
  await c.virsh.secretUndefine(volumeSecret(volumeId).uuid);
  return true;
}

export function nicOf(v: VifSpec): DomainNic {
  return {
    portId: v.port_id,
    mac: v.mac,
    mtu: v.mtu,
    vifType: v.vif_type ?? 'ovs',
    bridge: v.bridge ?? 'br-int',
    tap: tapName(v.port_id),
    model: v.model ?? 'virtio',
  };
}

export async function plugVif(c: LibvirtCtx, uuid: string, vif: VifSpec): Promise<string> {
  const { dom, flags } = await liveFlags(c, uuid);
  const facts = await factsOf(dom);
  const nic = nicOf(vif);
  if (facts.ports.some((p) => p.portId === vif.port_id)) return nic.tap;
  try {
    await withTempFile(c, 'nic.xml', interfaceXml(nic), (p) => c.virsh.attachDevice(uuid, p, flags));
  } catch (e) {
    throw stepFailed('HypervisorError', `plug port ${vif.port_id}`, e);
  }
  return nic.tap;
}

export async function unplugVif(c: LibvirtCtx, uuid: string, portId: string): Promise<boolean> {
  const { dom, flags } = await liveFlags(c, uuid);
  const facts = await factsOf(dom);
  if (!facts.ports.some((p) => p.portId === portId)) return false;
  try {
    await c.virsh.detachDeviceAlias(uuid, portAlias(portId), flags);
  } catch (e) {
    if (!(e instanceof VirshError && e.notFound)) throw stepFailed('HypervisorError', `unplug port ${portId}`, e);
  }
  if (flags.live) await waitGone(c, uuid, `port ${portId}`, (f) => f.ports.some((p) => p.portId === portId));
  return true;
}
