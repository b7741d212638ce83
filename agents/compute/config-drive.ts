import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { ConfigDriveSpec } from '../../shared/agent/compute.js';
import type { Isofs } from '../../shared/tools/isofs.js';
import { configDriveFiles as driveFiles, type DriveFile, type MetadataSource } from '../../shared/metadata/instance-metadata.js';
import { BadSpec } from './errors.js';

export type { DriveFile };

/**
 * The config drive (Nova's configdrive): an ISO 9660 filesystem labelled `config-2`
 * holding the same documents as the metadata service, laid out as Nova lays them
 * (every OpenStack version folder and `latest`, each with the documents that version
 * has; `ec2/2009-04-04` and `ec2/latest`). The documents come from the one renderer the
 * metadata service uses (shared/metadata/instance-metadata.ts).
 */

export const CONFIG_DRIVE_LABEL = 'config-2';

const B64_RE = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

/** Decodes the API's base64 user_data; BadSpec when it is not base64. */
export function decodeUserData(b64: string): Buffer {
  if (!B64_RE.test(b64)) throw new BadSpec('config_drive.user_data is not valid base64');
  return Buffer.from(b64, 'base64');
}

/** The metadata documents' source for a drive spec. */
export function sourceOfSpec(spec: ConfigDriveSpec): MetadataSource {
  return {
    meta: spec.meta_data,
    userData: spec.user_data ? decodeUserData(spec.user_data) : null,
    networkData: spec.network_data,
    ec2: spec.ec2 ?? null,
    vendorData: spec.vendor_data ?? {},
    password: '',
  };
}

/** The files of the drive, in a stable order (random_seed differs per call). */
export function configDriveFiles(spec: ConfigDriveSpec, seed?: () => Buffer): DriveFile[] {
  return driveFiles(sourceOfSpec(spec), seed);
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
