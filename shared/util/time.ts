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
/**
 * Python's `datetime.isoformat()` of a naive UTC time, from epoch microseconds, as Keystone
 * echoes application credential expiry: 2026-12-07T10:48:35.042057 (no fraction when 0, no Z).
 */
export function pythonIsoTime(us: number): string {
  const micro = ((us % 1_000_000) + 1_000_000) % 1_000_000;
  const base = new Date((us - micro) / 1000).toISOString().replace(/\.\d{3}Z$/, '');
  return micro ? `${base}.${String(micro).padStart(6, '0')}` : base;
}
/** Epoch microseconds of an ISO 8601 time (UTC when it names no zone); NaN if unreadable. */
export function parseIsoMicros(s: string): number {
  const m = /^(.*T\d\d:\d\d(?::\d\d)?)(?:[.,](\d+))?(Z|[+-]\d\d:?\d\d)?$/i.exec(s.trim());
  if (!m) return Number.NaN;
  const ms = Date.parse(`${m[1]}${m[3] ?? 'Z'}`);
  const frac = Number((m[2] ?? '').slice(0, 6).padEnd(6, '0'));
  return ms * 1000 + frac;
}
