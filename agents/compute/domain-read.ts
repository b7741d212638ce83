import { child, children, parseXml, type XmlElement } from './xml.js';

/**
 * What the driver needs back from a live domain's XML (libvirt's getXMLDesc output):
 * our marker, the file disks (for cleanup and snapshots), attached volumes and ports
 * (by their ua- aliases), the console log and the VNC port libvirt picked.
 */
export interface DomainFacts {
  name: string;
  uuid: string;
  /** Instance uuid from <homestack:instance>; null when the domain is not ours. */
  homestackUuid: string | null;
  vcpus: number;
  memoryMb: number;
  fileDisks: Array<{ path: string; format: string; target: string; device: string }>;
  /** volume id → guest target. */
  volumes: Record<string, string>;
  /** iSCSI CHAP secret usages in use by volumes (volume id → usage). */
  volumeSecrets: Record<string, string>;
  /** All guest disk targets in use. */
  targets: string[];
  ports: Array<{ portId: string; tap: string | null; mac: string | null }>;
  consoleLog: string | null;
  vnc: { port: number; listen: string } | null;
}

function memMb(el: XmlElement | undefined): number {
  if (!el) return 0;
  const n = Number(el.text.trim());
  const unit = (el.attrs.unit ?? 'KiB').toLowerCase();
  const factor: Record<string, number> = {
    b: 1 / 1048576,
    bytes: 1 / 1048576,
    k: 1 / 1024,
    kib: 1 / 1024,
    m: 1,
    mib: 1,
    g: 1024,
    gib: 1024,
  };
  return Math.round(n * (factor[unit] ?? 1 / 1024));
}

export function readDomainXml(xml: string): DomainFacts {
  const root = parseXml(xml);
  const meta = child(root, 'metadata');
  const marker = meta?.children.find((c) => c.name.endsWith(':instance') || c.name === 'instance');
  const markerUuid = marker?.children.find((c) => c.name.endsWith(':uuid') || c.name === 'uuid')?.text.trim() ?? null;
  const devices = child(root, 'devices');
  const fileDisks: DomainFacts['fileDisks'] = [];
  const volumes: Record<string, string> = {};
  const volumeSecrets: Record<string, string> = {};
  const targets: string[] = [];
  for (const d of children(devices, 'disk')) {
    const target = child(d, 'target')?.attrs.dev ?? '';
    if (target) targets.push(target);
    const alias = child(d, 'alias')?.attrs.name ?? '';
    if (d.attrs.type === 'file') {
      const path = child(d, 'source')?.attrs.file;
      if (path)
        fileDisks.push({ path, format: child(d, 'driver')?.attrs.type ?? 'raw', target, device: d.attrs.device ?? 'disk' });
    }
    const volId = alias.startsWith('ua-vol-') ? alias.slice(7) : child(d, 'serial')?.text.trim();
    if (d.attrs.type === 'network' && volId) {
      volumes[volId] = target;
      const usage = child(d, 'auth/secret')?.attrs.usage;
      if (usage) volumeSecrets[volId] = usage;
    }
  }
  const ports: DomainFacts['ports'] = [];
  for (const n of children(devices, 'interface')) {
    const alias = child(n, 'alias')?.attrs.name ?? '';
    const portId = alias.startsWith('ua-port-') ? alias.slice(8) : child(n, 'virtualport/parameters')?.attrs.interfaceid;
    if (portId) ports.push({ portId, tap: child(n, 'target')?.attrs.dev ?? null, mac: child(n, 'mac')?.attrs.address ?? null });
  }
  const serial = children(devices, 'serial')[0];
  const g = children(devices, 'graphics').find((x) => x.attrs.type === 'vnc');
  const vncPort = g ? Number(g.attrs.port) : NaN;
  return {
    name: child(root, 'name')?.text.trim() ?? '',
    uuid: child(root, 'uuid')?.text.trim() ?? '',
    homestackUuid: markerUuid,
    vcpus: Number(child(root, 'vcpu')?.text.trim() ?? 0) || 0,
    memoryMb: memMb(child(root, 'memory')),
    fileDisks,
    volumes,
    volumeSecrets,
    targets,
    ports,
    consoleLog:
      child(serial, 'log')?.attrs.file ?? (serial?.attrs.type === 'file' ? (child(serial, 'source')?.attrs.path ?? null) : null),
    vnc: g && vncPort > 0 ? { port: vncPort, listen: g.attrs.listen ?? child(g, 'listen')?.attrs.address ?? '127.0.0.1' } : null,
  };
}

/** The first free virtio target after the ones in use (vdb, vdc, … vdz, vdaa…). */
export function nextVirtioTarget(used: readonly string[]): string {
  const taken = new Set(used);
  for (let i = 1; i < 26 * 27; i++) {
    const name =
      i < 26
        ? `vd${String.fromCharCode(97 + i)}`
        : `vd${String.fromCharCode(96 + Math.floor(i / 26))}${String.fromCharCode(97 + (i % 26))}`;
    if (!taken.has(name)) return name;
  }
  throw new Error('no free disk target');
}
