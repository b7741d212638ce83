import type { InstanceSpec, IscsiConnectionInfo, VifSpec } from './compute.js';

/** Sample bodies of the compute contract, valid against the schemas (tests on both sides use them). */

export const sampleVif: VifSpec = {
  port_id: '10011000-0000-4000-8000-000000000011',
  mac: 'fa:16:3e:10:01:11',
  network_id: '20000000-0000-4000-8000-000000000001',
  mtu: 1450,
  vif_type: 'ovs',
  bridge: 'br-int',
  fixed_ips: [{ subnet_id: '30000000-0000-4000-8000-000000000001', ip_address: '10.0.0.11' }],
};

export const sampleConnection: IscsiConnectionInfo = {
  driver_volume_type: 'iscsi',
  data: {
    target_iqn: 'iqn.2026-11.org.homestack:volume-7f0c9a52-3a8b-4c55-9d3e-1b2c3d4e5f60',
    target_portal: '192.0.2.5:3260',
    target_lun: 1,
    volume_id: '7f0c9a52-3a8b-4c55-9d3e-1b2c3d4e5f60',
    auth_method: 'CHAP',
    auth_username: 'chapuser',
    auth_password: 'chap-secret-123456',
    discard: true,
  },
};

export const sampleSpec: InstanceSpec = {
  uuid: '285450bd-5d75-4eac-a425-0c8dca9c4fe2',
  name: 'web-1',
  hostname: 'web-1',
  project_id: 'b5c1a0f4e6d94b6f9f7ea9bd1c0de001',
  vcpus: 1,
  memory_mb: 256,
  root_gb: 1,
  image: {
    id: 'c5ba31e0-69f0-47b7-a0af-ae92c92f57a3',
    download_url: 'http://127.0.0.1:8000/image/v2/images/c5ba31e0-69f0-47b7-a0af-ae92c92f57a3/file',
    token: 'gAAAAABtoken',
    checksum: '0f343b0931126a20f133d67c2b018a3b',
    disk_format: 'qcow2',
    size: 16711680,
  },
  nics: [sampleVif],
  config_drive: {
    meta_data: {
      uuid: '285450bd-5d75-4eac-a425-0c8dca9c4fe2',
      name: 'web-1',
      hostname: 'web-1',
      public_keys: { mykey: 'ssh-ed25519 AAAAC3Nza... me@example' },
      availability_zone: 'nova',
      launch_index: 0,
      project_id: 'b5c1a0f4e6d94b6f9f7ea9bd1c0de001',
      meta: { role: 'web' },
    },
    user_data: Buffer.from('#!/bin/sh\necho hello\n').toString('base64'),
    network_data: {
      links: [
        {
          id: 'tap10011000-00',
          type: 'ovs',
          ethernet_mac_address: 'fa:16:3e:10:01:11',
          mtu: 1450,
          vif_id: '10011000-0000-4000-8000-000000000011',
        },
      ],
      networks: [
        { id: 'network0', type: 'ipv4_dhcp', link: 'tap10011000-00', network_id: '20000000-0000-4000-8000-000000000001' },
      ],
      services: [],
    },
    vendor_data: {},
  },
  virt: { machine: 'pc', disk_bus: 'virtio', config_drive_device: 'cdrom' },
};
