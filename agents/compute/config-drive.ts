import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ConfigDriveSpec } from '../../shared/agent/compute.js';
import type { Isofs } from '../../shared/tools/isofs.js';
import { BadSpec } from './errors.js';

/**
 * The config drive (Nova's configdrive): an ISO 9660 filesystem labelled `config-2`
 * holding the same documents as the metadata service, under `openstack/latest/` and a
 * dated version folder (cloud-init and our test guest read `latest`; older readers
 * pick the newest dated folder they know).
 */

export const CONFIG_DRIVE_LABEL = 'config-2';
export const CONFIG_DRIVE_VERSIONS = ['2012-08-10', 'latest'] as const;

export interface DriveFile {
  /** Relative path inside the ISO. */
  path: string;
  content: Buffer;
}

const B64_RE = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

/** Decodes the API's base64 user_data; BadSpec when it is not base64. */
export function decodeUserData(b64: string): Buffer {
  if (!B64_RE.test(b64)) throw new BadSpec('config_drive.user_data is not valid base64');
  return Buffer.from(b64, 'base64');
}

/** The files of the drive, in a stable order (pure; unit tested). */
export function configDriveFiles(spec: ConfigDriveSpec): DriveFile[] {
  const md = spec.meta_data;
  const meta = {
    uuid: md.uuid,
    name: md.name,
    hostname: md.hostname,
    launch_index: md.launch_index ?? 0,
    availability_zone: md.availability_zone ?? null,
    project_id: md.project_id ?? null,
    public_keys: md.public_keys ?? {},
    keys: md.keys ?? Object.entries(md.public_keys ?? {}).map(([name, data]) => ({ name, type: 'ssh', data })),
    meta: md.meta ?? {},
    devices: md.devices ?? [],
  };
  const json = (o: unknown) => Buffer.from(JSON.stringify(o));
  const userData = spec.user_data ? decodeUserData(spec.user_data) : null;
  const files: DriveFile[] = [];
  for (const v of CONFIG_DRIVE_VERSIONS) {
    const base = `openstack/${v}`;
    files.push({ path: `${base}/meta_data.json`, content: json(meta) });
    if (userData) files.push({ path: `${base}/user_data`, content: userData });
    files.push({ path: `${base}/network_data.json`, content: json(spec.network_data) });
    files.push({ path: `${base}/vendor_data.json`, content: json(spec.vendor_data ?? {}) });
    files.push({ path: `${base}/vendor_data2.json`, content: json({}) });
  }
  return files;
}

/**
 * Writes the files into a scratch directory next to `isoPath`, builds the ISO, and
 * removes the scratch directory whatever happens. Overwrites `isoPath`; on failure
 * removes it (nothing half-made).
 */
export async function writeConfigDrive(isoPath: string, files: DriveFile[], iso: Isofs): Promise<void> {
  const scratch = await mkdtemp(join(dirname(isoPath), '.config-drive-'));
  try {
    for (const f of files) {
      if (f.path.split('/').some((p) => p === '..' || p === '') || f.path.startsWith('/'))
        throw new BadSpec(`bad config drive path ${f.path}`);
      const p = join(scratch, f.path);
      await mkdir(dirname(p), { recursive: true });
      await writeFile(p, f.content, { mode: 0o644 });
    }
    await iso.make(isoPath, scratch, CONFIG_DRIVE_LABEL);
  } catch (e) {
    await rm(isoPath, { force: true });
    throw e;
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
