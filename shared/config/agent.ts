import { Type, type Static } from 'typebox';

const Str = (def: string, description?: string) => Type.String({ default: def, description });
const Int = (def: number, min: number, description?: string) => Type.Integer({ default: def, minimum: min, description });
const Role = Type.Union([Type.Literal('compute'), Type.Literal('network'), Type.Literal('volume')]);

/** /etc/homestack/agent.toml. */
export const AgentConfigSchema = Type.Object(
  {
    host: Str('', "this host's name (default: the OS hostname)"),
    roles: Type.Array(Role, { default: ['compute', 'network', 'volume'], description: 'compute, network, volume' }),
    data_dir: Str('/var/lib/homestack-agent'),
    controller_url: Str('http://127.0.0.1:8000', 'where the controller listens'),
    credential_file: Str('/etc/homestack/agent.key', "file with this host's secret shared with the controller"),
    tls: Type.Object(
      {
        ca_file: Str(
          '',
          "PEM CA certificate(s) the controller's HTTPS certificate may chain to, besides the system's (default: tls/ca.pem beside credential_file, where enrolment puts the cloud's CA, when it exists)",
        ),
        serve: Type.Union([Type.Literal('auto'), Type.Literal('mutual'), Type.Literal('off')], {
          default: 'auto',
          description:
            "the agent's port: 'mutual' serves HTTPS with the host's certificate (tls/host.pem and host.key beside credential_file, installed at enrolment) and accepts only clients presenting a certificate of the cloud's CA (tls/ca.pem); 'auto' does so when those three files exist, plain HTTP otherwise; 'off' is plain HTTP",
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    listen: Type.Object(
      {
        host: Str('127.0.0.1', 'management address the controller reaches'),
        port: Int(8001, 1),
        advertise: Str(
          '',
          'address the controller uses to reach this agent (default: the listen host; when listening on 0.0.0.0, the first non-loopback IPv4)',
        ),
        headers_timeout_s: Int(30, 1, 'a client must send its request headers within this time (slow-header clients are cut)'),
        idle_timeout_s: Int(
          600,
          1,
          'a connection silent in both directions for this long is closed (long enough for a volume made from a large image)',
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    log: Type.Object(
      {
        level: Type.Union([Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug')], {
          default: 'info',
        }),
      },
      { additionalProperties: false, default: {} },
    ),
    heartbeat_s: Int(10, 1),
    compute: Type.Object(
      {
        driver: Type.Union([Type.Literal('libvirt'), Type.Literal('fake')], { default: 'libvirt' }),
        virt_type: Type.Union([Type.Literal('auto'), Type.Literal('kvm'), Type.Literal('qemu')], { default: 'auto' }),
        libvirt_uri: Str('qemu:///system'),
        instances_dir: Str('', 'default <data_dir>/instances'),
        console_host: Str('127.0.0.1', 'address VNC displays bind to'),
        reserved_memory_mb: Int(512, 0),
        images_dir: Str('', 'base image cache, default <data_dir>/images'),
        iso_tool: Type.Union([Type.Literal('genisoimage'), Type.Literal('xorriso')], {
          default: 'genisoimage',
          description: 'builds config drives',
        }),
        shutdown_timeout_s: Int(60, 0, 'how long a stop waits for ACPI shutdown before forcing'),
        fake_delay_ms: Int(
          0,
          0,
          'driver "fake" only: how long each spawn and volume attach takes (tests that need work in flight); ignored by libvirt',
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    network: Type.Object(
      {
        driver: Type.Union([Type.Literal('ovs'), Type.Literal('fake')], { default: 'ovs' }),
        tunnel_ip: Str('', 'VXLAN endpoint address (default: the listen host)'),
        datapath: Type.Union([Type.Literal('auto'), Type.Literal('system'), Type.Literal('netdev')], { default: 'auto' }),
        external_bridge: Str('br-ex', 'bridge of the flat external network'),
        physical_network: Str('public'),
        integration_bridge: Str('br-int'),
        tunnel_bridge: Str('br-tun'),
        resync_s: Int(60, 0, 'seconds between local re-applications of the last desired state (0: never)'),
        dns_domain: Str('openstacklocal', 'domain DHCP hands out'),
        external_bridge_cidr: Str(
          '',
          'address/prefix the host holds on the external bridge (the external network\'s gateway, e.g. "198.51.100.1/24"); empty: leave the bridge\'s addresses alone',
        ),
      },
      { additionalProperties: false, default: {} },
    ),
    volume: Type.Object(
      {
        backend: Type.Union([Type.Literal('file'), Type.Literal('lvm'), Type.Literal('fake')], { default: 'file' }),
        target: Type.Union([Type.Literal('tgtadm'), Type.Literal('lioadm'), Type.Literal('fake')], { default: 'tgtadm' }),
        volume_group: Str('homestack-volumes'),
        thin_pool: Str(''),
        file_dir: Str('', 'default <data_dir>/volumes'),
        target_ip: Str('', 'iSCSI portal address (default: the listen host)'),
        iqn_prefix: Str('iqn.2026-11.org.homestack'),
      },
      { additionalProperties: false, default: {} },
    ),
    backup: Type.Object(
      {
        target: Type.Union([Type.Literal('posix'), Type.Literal('s3'), Type.Literal('none')], {
          default: 'posix',
          description: "where volume backups go: a directory (local disk or an NFS/SMB mount), an S3 bucket, or 'none'",
        }),
        posix_path: Str('', 'directory of the posix target (default <data_dir>/backups, as Cinder keeps $state_path/backup)'),
        s3_endpoint: Str('', 'S3 endpoint URL, e.g. http://nas.lan:9000 (MinIO, Garage, a NAS, Swift s3api)'),
        s3_region: Str('us-east-1'),
        s3_bucket: Str('volumebackups', 'bucket of backups made without --container (Cinder: backup_s3_store_bucket)'),
        s3_access_key: Str(''),
        s3_secret_key_file: Str('', 'file holding the S3 secret key (mode 0600)'),
        s3_force_path_style: Type.Boolean({
          default: true,
          description: 'http://host/bucket/key rather than http://bucket.host/key',
        }),
        s3_timeout_s: Int(60, 1, 'one S3 request (put or get of one chunk)'),
        compression: Type.Union([Type.Literal('zstd'), Type.Literal('gzip'), Type.Literal('none')], {
          default: 'zstd',
          description: 'compression of each chunk (zstd measured 10x gzip -6 here: README)',
        }),
        compression_level: Int(3, 1, 'zstd 1-19 (3 = the zstd CLI default), gzip 1-9'),
        chunk_size_mib: Int(4, 1, 'size of one chunk: the unit of change tracking, checksums and objects'),
        parallel: Int(2, 1, 'chunks compressed and sent at once'),
      },
      { additionalProperties: false, default: {} },
    ),
  },
  { additionalProperties: false },
);

export type AgentConfig = Static<typeof AgentConfigSchema>;
