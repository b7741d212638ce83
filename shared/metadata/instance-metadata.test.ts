import { describe, expect, it } from 'vitest';
import { ec2Print, lookupMetadata, type MetadataSource } from './instance-metadata.js';
import { signatureValid, signInstanceId } from './signature.js';

const src: MetadataSource = {
  meta: {
    uuid: '11111111-2222-4333-8444-555555555555',
    name: 'web 1',
    hostname: 'web-1',
    availability_zone: 'nova',
    launch_index: 0,
    project_id: 'p1',
    meta: {},
    public_keys: { mykey: 'ssh-ed25519 AAAA me' },
  },
  userData: Buffer.from('#cloud-config\nruncmd: []\n'),
  networkData: { links: [], networks: [], services: [] },
  ec2: {
    instance_id: 'i-0000002a',
    ami_id: 'ami-0abc1234',
    reservation_id: 'r-abcdefgh',
    instance_type: 'm1.tiny',
    local_ipv4: '10.0.0.5',
    public_ipv4: '203.0.113.7',
    security_groups: ['default', 'web'],
    block_device_mapping: { ami: 'vda', root: '/dev/vda' },
  },
  vendorData: {},
  password: '',
};
const now = new Date('2026-12-07T00:00:00Z');
const body = (path: string) => {
  const r = lookupMetadata(src, path, now, () => Buffer.alloc(512, 7));
  return r && r.kind === 'data' ? r.body.toString() : r;
};

describe("metadata paths (Nova's InstanceMetadata.lookup)", () => {
  it('lists the EC2 versions at / and the OpenStack versions at /openstack', () => {
    expect(body('/')).toBe(
      [
        '1.0',
        '2007-01-19',
        '2007-03-01',
        '2007-08-29',
        '2007-10-10',
        '2007-12-15',
        '2008-02-01',
        '2008-09-01',
        '2009-04-04',
        'latest',
      ].join('\n'),
    );
    expect((body('/openstack') as string).split('\n')).toEqual([
      '2012-08-10',
      '2013-04-04',
      '2013-10-17',
      '2015-10-15',
      '2016-06-30',
      '2016-10-06',
      '2017-02-22',
      '2018-08-27',
      '2020-10-14',
      '2025-04-04',
      'latest',
    ]);
    // versions dated after today are hidden from the listing
    expect(lookupMetadata(src, '/openstack', new Date('2020-01-01T00:00:00Z'))).toMatchObject({ kind: 'data' });
    expect(
      (lookupMetadata(src, '/openstack', new Date('2020-01-01T00:00:00Z')) as { body: Buffer }).body.toString(),
    ).not.toContain('2020-10-14');
  });

  it('lists what a version has, and serves each document with its type', () => {
    expect((body('/openstack/latest/') as string).split('\n')).toEqual([
      'meta_data.json',
      'user_data',
      'password',
      'vendor_data.json',
      'network_data.json',
      'vendor_data2.json',
    ]);
    expect(body('/openstack/2012-08-10')).toBe('meta_data.json\nuser_data');
    const md = lookupMetadata(src, 'openstack/latest/meta_data.json', now);
    expect(md).toMatchObject({ kind: 'data', contentType: 'application/json' });
    const doc = JSON.parse((md as { body: Buffer }).body.toString());
    expect(doc).toMatchObject({
      uuid: src.meta.uuid,
      hostname: 'web-1',
      name: 'web 1',
      project_id: 'p1',
      public_keys: { mykey: 'ssh-ed25519 AAAA me' },
    });
    expect(Object.keys(JSON.parse(body('/openstack/2012-08-10/meta_data.json') as string))).not.toContain('random_seed');
    expect(body('/openstack/latest/user_data')).toBe('#cloud-config\nruncmd: []\n');
    expect(JSON.parse(body('/openstack/latest/vendor_data2.json') as string)).toEqual({ static: {} });
    expect(lookupMetadata(src, '/openstack/latest/password', now)).toEqual({ kind: 'password' });
    expect(lookupMetadata(src, '/openstack/2012-08-10/password', now)).toBeNull();
    expect(lookupMetadata(src, '/openstack/2012-08-10/network_data.json', now)).toBeNull();
    expect(lookupMetadata(src, '/openstack/1999-01-01/meta_data.json', now)).toBeNull();
    expect(lookupMetadata(src, '/openstack/latest/nope', now)).toBeNull();
    expect(lookupMetadata({ ...src, userData: null }, '/openstack/latest/user_data', now)).toBeNull();
  });

  it('serves the EC2 tree as cloud-init crawls it (directories with /, public-keys as 0=name)', () => {
    expect(body('/latest')).toBe('meta-data/\nuser-data');
    const listing = (body('/latest/meta-data/') as string).split('\n');
    expect(listing).toEqual([
      'ami-id',
      'ami-launch-index',
      'ami-manifest-path',
      'block-device-mapping/',
      'hostname',
      'instance-action',
      'instance-id',
      'instance-type',
      'local-hostname',
      'local-ipv4',
      'placement/',
      'public-hostname',
      'public-ipv4',
      'public-keys/',
      'reservation-id',
      'security-groups',
    ]);
    expect(body('/latest/meta-data/instance-id')).toBe('i-0000002a');
    expect(body('/2009-04-04/meta-data/public-keys')).toBe('0=mykey');
    expect(body('/2009-04-04/meta-data/public-keys/0')).toBe('openssh-key');
    expect(body('/2009-04-04/meta-data/public-keys/0/openssh-key')).toBe('ssh-ed25519 AAAA me');
    expect(body('/latest/meta-data/security-groups')).toBe('default\nweb');
    expect(body('/latest/meta-data/placement/availability-zone')).toBe('nova');
    expect(body('/ec2/latest/user-data')).toBe('#cloud-config\nruncmd: []\n');
    // 1.0 has no public-ipv4 (added in 2007-01-19)
    expect(body('/1.0/meta-data/public-ipv4')).toBeNull();
    expect(body('/latest/meta-data/nope')).toBeNull();
    expect(ec2Print({ a: 1, b: { c: 2 } })).toBe('a\nb/');
  });
});

describe('X-Instance-ID-Signature', () => {
  it('is HMAC-SHA256 of the instance id under the key, checked in constant time', () => {
    const sig = signInstanceId('k', 'i1');
    expect(sig).toBe('4270851fe50a4d7974b7f0bdaa489116fdcd01b995cffd6510f815159a75f29d'); // python3 hmac.new(b'k', b'i1', sha256)
    expect(signatureValid('k', 'i1', sig)).toBe(true);
    expect(signatureValid('k', 'i2', sig)).toBe(false); // another instance's id
    expect(signatureValid('other', 'i1', sig)).toBe(false); // another key
    expect(signatureValid('k', 'i1', sig.toUpperCase())).toBe(false);
    expect(signatureValid('k', 'i1', undefined)).toBe(false);
    expect(signatureValid('k', 'i1', 'abc')).toBe(false);
    expect(signatureValid('', 'i1', signInstanceId('', 'i1'))).toBe(false); // no key, no trust
  });
});
