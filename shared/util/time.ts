/** Keystone's timestamp format: 2026-11-22T08:08:57.000000Z */
export function keystoneTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
/** Nova/Glance/Neutron format: 2026-11-22T08:08:57Z */
export function isoSeconds(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}
/** Cinder's format: 2026-11-22T08:08:57.000000 */
export function cinderTime(d: Date): string {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000');
}
export const nowIso = (): string => new Date().toISOString();
