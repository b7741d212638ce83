/**
 * The destination's copy of a domain for a live migration (`virsh migrate --xml`): the
 * source's `dumpxml --migratable` with only host-side details changed, so everything
 * the guest sees (devices, PCI addresses, MACs) stays identical and libvirt's ABI check
 * passes:
 * - files under the source's instance directory (root disk, config drive, console log)
 *   move to the destination's instance directory (paths differ between hosts);
 * - the VNC display listens on the destination's console address;
 * - each volume logs in with the CHAP user of the destination's own attachment (its
 *   secret is defined there under the same usage name).
 * libvirt writes its XML with single-quoted attributes, which these rewrites rely on;
 * the unit test runs them on XML captured from libvirt 9.0.
 */

const escRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const escAttr = (s: string) => s.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;');

export interface DestinationDetails {
  fromDir: string;
  toDir: string;
  consoleHost: string;
  /** volume id → the CHAP user name of the destination's attachment. */
  chapUsers: Record<string, string>;
}

export function destinationXml(xml: string, d: DestinationDetails): string {
  const from = d.fromDir.replace(/\/+$/, '');
  const to = d.toDir.replace(/\/+$/, '');
  let out = xml.replace(new RegExp(`(file=')${escRe(from)}/`, 'g'), `$1${escAttr(to)}/`);
  out = out.replace(/<graphics type='vnc'([^>]*)>([\s\S]*?)<\/graphics>/g, (_m, attrs: string, inner: string) => {
    const a = attrs.replace(/ listen='[^']*'/, ` listen='${escAttr(d.consoleHost)}'`);
    const i = inner.replace(/(<listen type='address' address=')[^']*'/, `$1${escAttr(d.consoleHost)}'`);
    return `<graphics type='vnc'${a}>${i}</graphics>`;
  });
  out = out.replace(/<disk type='network'[\s\S]*?<\/disk>/g, (disk) => {
    const serial = /<serial>([^<]+)<\/serial>/.exec(disk)?.[1];
    const user = serial ? d.chapUsers[serial] : undefined;
    return user ? disk.replace(/<auth username='[^']*'>/, `<auth username='${escAttr(user)}'>`) : disk;
  });
  return out;
}

/** Which disk target a file path is attached as (the root disk to copy), from libvirt's XML. */
export function targetOfFile(xml: string, path: string): string | null {
  for (const disk of xml.match(/<disk type='file'[\s\S]*?<\/disk>/g) ?? []) {
    if (!disk.includes(`file='${escAttr(path)}'`)) continue;
    return /<target dev='([^']+)'/.exec(disk)?.[1] ?? null;
  }
  return null;
}
