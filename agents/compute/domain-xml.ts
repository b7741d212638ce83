import { esc } from './xml.js';

/**
 * Typed builder for libvirt domain XML (in the spirit of Nova's libvirt/config.py):
 * the driver describes a guest with these types, and this module alone decides how
 * that becomes XML. Output is deterministic (golden-file tested).
 *
 * Identification: the libvirt domain UUID is the instance uuid, the domain name is
 * `instance-<uuid>`, and `<metadata><homestack:instance>` marks the domain as ours
 * (reconciliation lists only marked domains). Volumes and ports carry user aliases
 * (`ua-vol-<volume id>`, `ua-port-<port id>`) so they can be found and detached by id.
 */

export const HOMESTACK_NS = 'https://homestack.org/xmlns/libvirt/instance/1';
export const DOMAIN_PREFIX = 'instance-';
export const domainName = (uuid: string): string => `${DOMAIN_PREFIX}${uuid}`;
export const volumeAlias = (volumeId: string): string => `ua-vol-${volumeId}`;
export const portAlias = (portId: string): string => `ua-port-${portId}`;

export type DiskBus = 'virtio' | 'scsi' | 'ide' | 'sata';

export interface FileDisk {
  kind: 'file';
  path: string;
  format: 'qcow2' | 'raw';
  device: 'disk' | 'cdrom';
  bus: DiskBus;
  /** Guest target name (vda, hda…). */
  target: string;
  readonly?: boolean;
  /** Boot order (1 = first). */
  bootOrder?: number;
}

export interface IscsiDisk {
  kind: 'iscsi';
  iqn: string;
  lun: number;
  host: string;
  port: number;
  /** CHAP: the libvirt secret is looked up by its usage name. */
  auth?: { username: string; secretUsage: string };
  bus: DiskBus;
  target: string;
  /** Cinder volume id: becomes the disk serial and the ua-vol- alias. */
  volumeId: string;
  discard?: boolean;
  bootOrder?: number;
}

export type DomainDisk = FileDisk | IscsiDisk;

export interface DomainNic {
  portId: string;
  mac: string;
  mtu: number;
  /** ovs: libvirt plugs into the bridge (virtualport); tap: libvirt only creates the tap. */
  vifType: 'ovs' | 'tap';
  bridge: string;
  tap: string;
  model: 'virtio' | 'e1000' | 'rtl8139';
}

export interface DomainConfig {
  uuid: string;
  /** Server display name, for <title>. */
  title: string;
  virtType: 'kvm' | 'qemu';
  machine: string;
  arch: string;
  vcpus: number;
  memoryMb: number;
  cpuMode: 'host-model' | 'host-passthrough' | 'default';
  disks: DomainDisk[];
  nics: DomainNic[];
  /** File the serial console is logged to (appended across restarts). */
  consoleLog: string;
  /** VNC listen address; null: no graphics. */
  vncListen: string | null;
  meta: { projectId?: string; createdAt: string };
  /**
   * SMBIOS system entries the guest reads from DMI (Nova's <sysinfo>): cloud-init's
   * ds-identify enables the OpenStack metadata datasource when the product is
   * "OpenStack Nova" or "OpenStack Compute", and checks the cached instance id against
   * the system uuid on every boot. Absent: no <sysinfo>.
   */
  sysinfo?: { manufacturer: string; product: string; version: string; serial: string; family: string };
}

/** What a Homestack guest's DMI says (the product is one ds-identify knows as OpenStack). */
export const GUEST_SYSINFO = { manufacturer: 'Homestack', product: 'OpenStack Compute', family: 'Virtual Machine' } as const;

const ind = (s: string, n: number) =>
  s
    .split('\n')
    .map((l) => (l ? ' '.repeat(n) + l : l))
    .join('\n');

function driverAttrs(d: DomainDisk): string {
  if (d.kind === 'iscsi') return `name='qemu' type='raw'${d.discard ? " discard='unmap'" : ''}`;
  return `name='qemu' type='${d.format}'${d.device === 'disk' ? " discard='unmap'" : ''}`;
}

/** One <disk> element (also used alone for attach-device). */
export function diskXml(d: DomainDisk): string {
  const lines: string[] = [];
  if (d.kind === 'file') {
    lines.push(`<disk type='file' device='${d.device}'>`);
    lines.push(`  <driver ${driverAttrs(d)}/>`);
    lines.push(`  <source file='${esc(d.path)}'/>`);
    lines.push(`  <target dev='${esc(d.target)}' bus='${d.bus}'/>`);
    if (d.readonly) lines.push('  <readonly/>');
  } else {
    lines.push(`<disk type='network' device='disk'>`);
    lines.push(`  <driver ${driverAttrs(d)}/>`);
    lines.push(`  <source protocol='iscsi' name='${esc(d.iqn)}/${d.lun}'>`);
    lines.push(`    <host name='${esc(d.host)}' port='${d.port}'/>`);
    lines.push('  </source>');
    if (d.auth) {
      lines.push(`  <auth username='${esc(d.auth.username)}'>`);
      lines.push(`    <secret type='iscsi' usage='${esc(d.auth.secretUsage)}'/>`);
      lines.push('  </auth>');
    }
    lines.push(`  <target dev='${esc(d.target)}' bus='${d.bus}'/>`);
    lines.push(`  <serial>${esc(d.volumeId)}</serial>`);
    lines.push(`  <alias name='${volumeAlias(d.volumeId)}'/>`);
  }
  if (d.bootOrder) lines.push(`  <boot order='${d.bootOrder}'/>`);
  lines.push('</disk>');
  return lines.join('\n');
}

/** One <interface> element (also used alone for attach-device). */
export function interfaceXml(n: DomainNic): string {
  const lines: string[] = [];
  if (n.vifType === 'ovs') {
    lines.push(`<interface type='bridge'>`);
    lines.push(`  <mac address='${esc(n.mac.toLowerCase())}'/>`);
    lines.push(`  <source bridge='${esc(n.bridge)}'/>`);
    lines.push(`  <virtualport type='openvswitch'>`);
    lines.push(`    <parameters interfaceid='${esc(n.portId)}'/>`);
    lines.push('  </virtualport>');
  } else {
    lines.push(`<interface type='ethernet'>`);
    lines.push(`  <mac address='${esc(n.mac.toLowerCase())}'/>`);
  }
  lines.push(`  <target dev='${esc(n.tap)}'${n.vifType === 'tap' ? " managed='yes'" : ''}/>`);
  lines.push(`  <model type='${n.model}'/>`);
  // The userspace-datapath OVS forwards partial checksums unchanged: the host side
  // must not offload them (multihost-recipe.md §8.1). Harmless with the kernel datapath.
  if (n.model === 'virtio') {
    lines.push(`  <driver name='qemu'>`);
    lines.push(`    <host csum='off'/>`);
    lines.push('  </driver>');
  }
  lines.push(`  <mtu size='${n.mtu}'/>`);
  lines.push(`  <alias name='${portAlias(n.portId)}'/>`);
  lines.push('</interface>');
  return lines.join('\n');
}

/** The whole domain document. */
export function buildDomainXml(c: DomainConfig): string {
  const L: string[] = [];
  L.push(`<domain type='${c.virtType}'>`);
  L.push(`  <name>${domainName(c.uuid)}</name>`);
  L.push(`  <uuid>${esc(c.uuid)}</uuid>`);
  L.push(`  <title>${esc(c.title)}</title>`);
  L.push('  <metadata>');
  L.push(`    <homestack:instance xmlns:homestack='${HOMESTACK_NS}'>`);
  L.push(`      <homestack:uuid>${esc(c.uuid)}</homestack:uuid>`);
  L.push(`      <homestack:name>${esc(c.title)}</homestack:name>`);
  if (c.meta.projectId) L.push(`      <homestack:project>${esc(c.meta.projectId)}</homestack:project>`);
  L.push(`      <homestack:created>${esc(c.meta.createdAt)}</homestack:created>`);
  L.push('    </homestack:instance>');
  L.push('  </metadata>');
  L.push(`  <memory unit='MiB'>${c.memoryMb}</memory>`);
  L.push(`  <currentMemory unit='MiB'>${c.memoryMb}</currentMemory>`);
  L.push(`  <vcpu placement='static'>${c.vcpus}</vcpu>`);
  if (c.sysinfo) {
    const e = c.sysinfo;
    L.push(`  <sysinfo type='smbios'>`);
    L.push('    <system>');
    for (const [k, v] of [
      ['manufacturer', e.manufacturer],
      ['product', e.product],
      ['version', e.version],
      ['serial', e.serial],
      ['uuid', c.uuid],
      ['family', e.family],
    ])
      L.push(`      <entry name='${k}'>${esc(v!)}</entry>`);
    L.push('    </system>');
    L.push('  </sysinfo>');
  }
  L.push('  <os>');
  L.push(`    <type arch='${esc(c.arch)}' machine='${esc(c.machine)}'>hvm</type>`);
  if (!c.disks.some((d) => d.bootOrder)) L.push(`    <boot dev='hd'/>`);
  if (c.sysinfo) L.push(`    <smbios mode='sysinfo'/>`);
  L.push('  </os>');
  L.push('  <features>');
  L.push('    <acpi/>');
  L.push('    <apic/>');
  L.push('  </features>');
  if (c.virtType === 'kvm' && c.cpuMode !== 'default') L.push(`  <cpu mode='${c.cpuMode}'/>`);
  L.push(`  <clock offset='utc'/>`);
  L.push('  <on_poweroff>destroy</on_poweroff>');
  L.push('  <on_reboot>restart</on_reboot>');
  L.push('  <on_crash>destroy</on_crash>');
  L.push('  <devices>');
  for (const d of c.disks) L.push(ind(diskXml(d), 4));
  for (const n of c.nics) L.push(ind(interfaceXml(n), 4));
  // pty serial with a log: `virsh console` still works, and virtlogd appends every
  // byte from the first one to the file across reboots and restarts.
  L.push(`    <serial type='pty'>`);
  L.push(`      <log file='${esc(c.consoleLog)}' append='on'/>`);
  L.push(`      <target port='0'/>`);
  L.push('    </serial>');
  L.push(`    <console type='pty'>`);
  L.push(`      <target type='serial' port='0'/>`);
  L.push('    </console>');
  if (c.vncListen !== null) {
    L.push(`    <graphics type='vnc' autoport='yes' listen='${esc(c.vncListen)}'>`);
    L.push(`      <listen type='address' address='${esc(c.vncListen)}'/>`);
    L.push('    </graphics>');
    L.push(`    <video>`);
    L.push(`      <model type='cirrus'/>`);
    L.push('    </video>');
  }
  L.push(`    <rng model='virtio'>`);
  L.push(`      <backend model='random'>/dev/urandom</backend>`);
  L.push('    </rng>');
  L.push(`    <memballoon model='none'/>`);
  L.push('  </devices>');
  L.push('</domain>');
  return L.join('\n') + '\n';
}

/** The libvirt secret document for an iSCSI CHAP password (ephemeral, private). */
export function iscsiSecretXml(uuid: string, usage: string, description: string): string {
  return [
    `<secret ephemeral='no' private='yes'>`,
    `  <uuid>${esc(uuid)}</uuid>`,
    `  <description>${esc(description)}</description>`,
    `  <usage type='iscsi'>`,
    `    <target>${esc(usage)}</target>`,
    '  </usage>',
    '</secret>',
    '',
  ].join('\n');
}
