import { randomBytes } from 'node:crypto';
import { posix } from 'node:path';
import type { Ec2Data, MetaData, NetworkData } from '../agent/compute.js';

/**
 * What a guest reads about itself, in Nova's shapes (nova/api/metadata/base.py): the
 * OpenStack tree (`openstack/<version>/meta_data.json`, `user_data`, `password`,
 * `vendor_data.json`, `network_data.json`, `vendor_data2.json`) and the EC2 tree
 * (`<version>/meta-data/...`, `<version>/user-data`). One renderer for both places a
 * guest finds them: the metadata service (controller/metadata) and the config drive
 * (agents/compute/config-drive.ts). Pure apart from the random seed.
 */

/** EC2 API versions Nova serves (VERSIONS), oldest first. */
export const EC2_VERSIONS = [
  '1.0',
  '2007-01-19',
  '2007-03-01',
  '2007-08-29',
  '2007-10-10',
  '2007-12-15',
  '2008-02-01',
  '2008-09-01',
  '2009-04-04',
] as const;

const FOLSOM = '2012-08-10';
const GRIZZLY = '2013-04-04';
const HAVANA = '2013-10-17';
const LIBERTY = '2015-10-15';
const NEWTON_ONE = '2016-06-30';
const NEWTON_TWO = '2016-10-06';
const VICTORIA = '2020-10-14';
/** OpenStack metadata versions Nova serves (OPENSTACK_VERSIONS), oldest first. */
export const OPENSTACK_VERSIONS = [
  FOLSOM,
  GRIZZLY,
  HAVANA,
  LIBERTY,
  NEWTON_ONE,
  NEWTON_TWO,
  '2017-02-22',
  '2018-08-27',
  VICTORIA,
  '2025-04-04',
] as const;

/** Nova's config_drive_skip_versions default: the EC2 versions left off the drive. */
const DRIVE_SKIP_EC2 = new Set(EC2_VERSIONS.slice(0, -1));

export const JSON_TYPE = 'application/json';
export const TEXT_TYPE = 'text/plain';

/** Everything the documents are made of (the controller builds it from its rows). */
export interface MetadataSource {
  meta: MetaData;
  /** The decoded user data; null when the server has none. */
  userData: Buffer | null;
  networkData: NetworkData;
  /** null: no EC2 tree (a config drive from an older controller). */
  ec2: Ec2Data | null;
  /** vendor_data.json (Nova's StaticJSON provider; {} when none is configured). */
  vendorData: Record<string, unknown>;
  /** The password a guest posted to `password` ('' until then). */
  password: string;
}

export type Lookup =
  | { kind: 'data'; body: Buffer; contentType: string }
  /** `openstack/<version>/password`: GET reads, POST sets once (the service handles it). */
  | { kind: 'password' };

const at = (list: readonly string[], v: string) => list.indexOf(v);
const osAtLeast = (required: string, v: string) => at(OPENSTACK_VERSIONS, v) >= at(OPENSTACK_VERSIONS, required);
const ec2AtLeast = (required: string, v: string) => at(EC2_VERSIONS, v) >= at(EC2_VERSIONS, required);

/** meta_data.json for an OpenStack version, keys in Nova's order. */
export function metaDataJson(src: MetadataSource, version: string, seed: () => Buffer = () => randomBytes(512)): Buffer {
  const m = src.meta;
  const out: Record<string, unknown> = { uuid: m.uuid };
  if (m.meta && Object.keys(m.meta).length) out.meta = m.meta;
  if (m.public_keys && Object.keys(m.public_keys).length) {
    out.public_keys = m.public_keys;
    out.keys = m.keys ?? Object.entries(m.public_keys).map(([name, data]) => ({ name, type: 'ssh', data }));
  }
  out.hostname = m.hostname;
  out.name = m.name;
  out.launch_index = m.launch_index ?? 0;
  out.availability_zone = m.availability_zone ?? null;
  if (osAtLeast(GRIZZLY, version)) out.random_seed = seed().toString('base64');
  if (osAtLeast(LIBERTY, version)) out.project_id = m.project_id ?? null;
  if (osAtLeast(NEWTON_ONE, version)) out.devices = m.devices ?? [];
  if (osAtLeast(VICTORIA, version)) out.dedicated_cpus = [];
  return Buffer.from(JSON.stringify(out));
}

type Tree = { [k: string]: string | number | string[] | Tree };

/** The EC2 meta-data tree of a version (Nova's get_ec2_metadata). */
export function ec2MetaData(src: MetadataSource, version: string): Tree | null {
  const e = src.ec2;
  if (!e) return null;
  const hostname = src.meta.hostname;
  const md: Tree = {
    'ami-id': e.ami_id,
    'ami-launch-index': src.meta.launch_index ?? 0,
    'ami-manifest-path': 'FIXME',
    'instance-id': e.instance_id,
    hostname,
    'local-ipv4': e.local_ipv4,
    'reservation-id': e.reservation_id,
    'security-groups': e.security_groups,
  };
  const key = Object.entries(src.meta.public_keys ?? {})[0];
  // public-keys/ lists "0=<name>"; public-keys/0/openssh-key is the key.
  if (key) md['public-keys'] = { '0': { _name: `0=${key[0]}`, 'openssh-key': key[1] } };
  if (ec2AtLeast('2007-01-19', version)) {
    md['local-hostname'] = hostname;
    md['public-hostname'] = hostname;
    md['public-ipv4'] = e.public_ipv4;
  }
  if (ec2AtLeast('2007-08-29', version)) md['instance-type'] = e.instance_type;
  if (ec2AtLeast('2007-12-15', version)) md['block-device-mapping'] = e.block_device_mapping;
  if (ec2AtLeast('2008-02-01', version)) md.placement = { 'availability-zone': src.meta.availability_zone ?? '' };
  if (ec2AtLeast('2008-09-01', version)) md['instance-action'] = 'none';
  return md;
}

/** Nova's ec2_md_print: a directory lists its keys (sub-directories with a '/'), a list its lines. */
export function ec2Print(data: unknown): string {
  if (Buffer.isBuffer(data)) return data.toString('utf8');
  if (Array.isArray(data)) return data.join('\n');
  if (data && typeof data === 'object') {
    const d = data as Record<string, unknown>;
    return Object.keys(d)
      .filter((k) => k !== '_name')
      .sort()
      .map((k) => {
        const v = d[k];
        if (v && typeof v === 'object' && !Array.isArray(v) && !Buffer.isBuffer(v))
          return '_name' in (v as object) ? String((v as Tree)._name) : `${k}/`;
        return k;
      })
      .join('\n');
  }
  return String(data);
}

/** The OpenStack versions listed at `openstack/` (future ones hidden, as Nova does). */
export function listedOpenstackVersions(now: Date): string[] {
  const today = now.toISOString().slice(0, 10);
  return [...OPENSTACK_VERSIONS.filter((v) => v <= today), 'latest'];
}

/** What `openstack/<version>/` lists. */
function versionListing(src: MetadataSource, v: string): string[] {
  const out = ['meta_data.json'];
  if (src.userData) out.push('user_data');
  if (osAtLeast(GRIZZLY, v)) out.push('password');
  if (osAtLeast(HAVANA, v)) out.push('vendor_data.json');
  if (osAtLeast(LIBERTY, v)) out.push('network_data.json');
  if (osAtLeast(NEWTON_TWO, v)) out.push('vendor_data2.json');
  return out;
}

const text = (s: string): Lookup => ({ kind: 'data', body: Buffer.from(s), contentType: TEXT_TYPE });
const json = (o: unknown, contentType = JSON_TYPE): Lookup => ({
  kind: 'data',
  body: Buffer.from(JSON.stringify(o)),
  contentType,
});

function openstackItem(src: MetadataSource, tokens: string[], seed?: () => Buffer): Lookup | null {
  const v = tokens[0] === 'latest' ? OPENSTACK_VERSIONS[OPENSTACK_VERSIONS.length - 1]! : tokens[0]!;
  if (!(OPENSTACK_VERSIONS as readonly string[]).includes(v)) return null;
  if (tokens.length === 1) return text(versionListing(src, v).join('\n'));
  const name = tokens.slice(1).join('/');
  switch (name) {
    case 'meta_data.json':
      return { kind: 'data', body: metaDataJson(src, v, seed), contentType: JSON_TYPE };
    case 'user_data':
      return src.userData ? { kind: 'data', body: src.userData, contentType: TEXT_TYPE } : null;
    case 'password':
      return osAtLeast(GRIZZLY, v) ? { kind: 'password' } : null;
    case 'vendor_data.json':
      return osAtLeast(HAVANA, v) ? json(src.vendorData) : null;
    case 'network_data.json':
      // Nova leaves this one text/plain.
      return osAtLeast(LIBERTY, v) ? json(src.networkData, TEXT_TYPE) : null;
    case 'vendor_data2.json':
      // Every vendordata provider's output under its name: StaticJSON's is "static".
      return osAtLeast(NEWTON_TWO, v) ? json({ static: src.vendorData }) : null;
    default:
      return null;
  }
}

function ec2Item(src: MetadataSource, tokens: string[]): Lookup | null {
  const v = tokens[0] === 'latest' ? EC2_VERSIONS[EC2_VERSIONS.length - 1]! : tokens[0]!;
  if (!(EC2_VERSIONS as readonly string[]).includes(v)) return null;
  const md = ec2MetaData(src, v);
  if (!md) return null;
  let node: unknown = src.userData ? { 'meta-data': md, 'user-data': src.userData } : { 'meta-data': md };
  for (const t of tokens.slice(1)) {
    if (!node || typeof node !== 'object' || Buffer.isBuffer(node) || Array.isArray(node) || !(t in node)) return null;
    node = (node as Record<string, unknown>)[t];
  }
  return text(ec2Print(node));
}

/**
 * The document at a guest's request path (Nova's InstanceMetadata.lookup), or null for
 * a 404. Paths that start with neither `openstack` nor `ec2` are EC2 paths.
 */
export function lookupMetadata(src: MetadataSource, path: string, now = new Date(), seed?: () => Buffer): Lookup | null {
  const norm = posix.normalize(`/${path}`).replace(/\/+$/, '');
  let tokens = norm.split('/').slice(1);
  if (tokens.length === 0 || tokens[0] === '') return text([...EC2_VERSIONS, 'latest'].join('\n'));
  if (tokens[0] !== 'openstack' && tokens[0] !== 'ec2') tokens = ['ec2', ...tokens];
  if (tokens.length === 1)
    return text((tokens[0] === 'openstack' ? listedOpenstackVersions(now) : [...EC2_VERSIONS, 'latest']).join('\n'));
  return tokens[0] === 'openstack' ? openstackItem(src, tokens.slice(1), seed) : ec2Item(src, tokens.slice(1));
}

export interface DriveFile {
  /** Relative path inside the ISO. */
  path: string;
  content: Buffer;
}

/** The files of a config drive (Nova's metadata_for_config_drive), in a stable order. */
export function configDriveFiles(src: MetadataSource, seed?: () => Buffer): DriveFile[] {
  const files: DriveFile[] = [];
  if (src.ec2) {
    for (const v of [...EC2_VERSIONS, 'latest']) {
      if (DRIVE_SKIP_EC2.has(v as (typeof EC2_VERSIONS)[number])) continue;
      const version = v === 'latest' ? EC2_VERSIONS[EC2_VERSIONS.length - 1]! : v;
      if (src.userData) files.push({ path: `ec2/${v}/user-data`, content: src.userData });
      const md = ec2MetaData(src, version)!;
      // On the drive, public-keys/0 is a plain dict (no listing name).
      const keys = md['public-keys'] as Record<string, Record<string, string>> | undefined;
      const plain = keys ? { ...md, 'public-keys': { '0': { 'openssh-key': keys['0']!['openssh-key']! } } } : md;
      files.push({ path: `ec2/${v}/meta-data.json`, content: Buffer.from(JSON.stringify(plain)) });
    }
  }
  for (const v of [...OPENSTACK_VERSIONS, 'latest']) {
    const version = v === 'latest' ? OPENSTACK_VERSIONS[OPENSTACK_VERSIONS.length - 1]! : v;
    const base = `openstack/${v}`;
    files.push({ path: `${base}/meta_data.json`, content: metaDataJson(src, version, seed) });
    if (src.userData) files.push({ path: `${base}/user_data`, content: src.userData });
    if (osAtLeast(HAVANA, version))
      files.push({ path: `${base}/vendor_data.json`, content: Buffer.from(JSON.stringify(src.vendorData)) });
    if (osAtLeast(LIBERTY, version))
      files.push({ path: `${base}/network_data.json`, content: Buffer.from(JSON.stringify(src.networkData)) });
    if (osAtLeast(NEWTON_TWO, version))
      files.push({ path: `${base}/vendor_data2.json`, content: Buffer.from(JSON.stringify({ static: src.vendorData })) });
  }
  return files;
}
