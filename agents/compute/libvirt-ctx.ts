import type { Domain } from '@unraid/libvirt';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { InstanceState } from '../../shared/agent/compute.js';
import type { Runner } from '../../shared/exec/run.js';
import type { QemuImg } from '../../shared/tools/qemu-img.js';
import { VirshError, type Virsh } from '../../shared/tools/virsh.js';
import { readDomainXml, type DomainFacts } from './domain-read.js';
import { InstanceNotFound } from './errors.js';
import type { ImageCache } from './image-cache.js';
import type { LibvirtConn } from './libvirt-conn.js';
import { toInstanceState, VIR } from './libvirt-state.js';

/** What the libvirt driver's modules share (one per driver; no module state). */
export interface LibvirtCtx {
  conn: LibvirtConn;
  virsh: Virsh;
  qemuImg: QemuImg;
  cache: ImageCache;
  run: Runner;
  instancesDir: string;
  /** Scratch for XML and secret files (0700). */
  tmpDir: string;
  virtType: 'kvm' | 'qemu';
  consoleHost: string;
  log: { info(o: object, m?: string): void; warn(o: object, m?: string): void };
}

export const UUID_RE = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export const instanceDir = (c: LibvirtCtx, uuid: string): string => {
  if (!UUID_RE.test(uuid)) throw new InstanceNotFound(uuid);
  return join(c.instancesDir, uuid.toLowerCase());
};
export const paths = (c: LibvirtCtx, uuid: string) => {
  const d = instanceDir(c, uuid);
  return {
    dir: d,
    root: join(d, 'disk'),
    configDrive: join(d, 'disk.config'),
    consoleLog: join(d, 'console.log'),
    info: join(d, 'instance.json'),
  };
};

/** The domain or InstanceNotFound. */
export async function mustLookup(c: LibvirtCtx, uuid: string): Promise<Domain> {
  const d = await c.conn.lookup(uuid);
  if (!d) throw new InstanceNotFound(uuid);
  return d;
}

export async function factsOf(dom: Domain): Promise<DomainFacts> {
  return readDomainXml(await dom.getXMLDesc());
}

export async function hasManagedSave(c: LibvirtCtx, uuid: string): Promise<boolean> {
  try {
    return await c.virsh.hasManagedSave(uuid);
  } catch (e) {
    if (e instanceof VirshError && e.notFound) return false;
    throw e;
  }
}

/** The libvirt state number of a domain. */
export async function virState(dom: Domain): Promise<number> {
  return (await dom.getInfo()).state as number;
}

export async function stateOfDomain(c: LibvirtCtx, uuid: string, dom: Domain): Promise<InstanceState> {
  const info = await dom.getInfo();
  const facts = await factsOf(dom);
  const saved = info.state === VIR.SHUTOFF ? await hasManagedSave(c, uuid) : false;
  return toInstanceState(uuid.toLowerCase(), info as unknown as Parameters<typeof toInstanceState>[1], facts, saved);
}

export async function stateOf(c: LibvirtCtx, uuid: string): Promise<InstanceState> {
  return stateOfDomain(c, uuid, await mustLookup(c, uuid));
}

/** Deterministic libvirt secret uuid and usage name for a volume's CHAP password. */
export function volumeSecret(volumeId: string): { uuid: string; usage: string } {
  const h = createHash('sha256').update(`homestack-iscsi-chap:${volumeId}`).digest('hex');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  return { uuid, usage: `homestack-volume-${volumeId}` };
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until the domain's state satisfies `ok` or the deadline passes. */
export async function waitState(dom: Domain, ok: (s: number) => boolean, timeoutMs: number, stepMs = 200): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (ok(await virState(dom))) return true;
    if (Date.now() >= end) return false;
    await sleep(stepMs);
  }
}
