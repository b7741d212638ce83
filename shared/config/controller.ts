import { Type, type Static } from 'typebox';
import { IMPORT_METHODS } from '../api/image.js';

const Str = (def: string, description?: string) => Type.String({ default: def, description });
const Int = (def: number, min: number, description?: string) => Type.Integer({ default: def, minimum: min, description });
const Num = (def: number, min: number, description?: string) => Type.Number({ default: def, minimum: min, description });
const Section = <
  T extends Record<
    string,
    | ReturnType<typeof Type.String>
    | ReturnType<typeof Type.Integer>
    | ReturnType<typeof Type.Number>
    | ReturnType<typeof Type.Boolean>
    | ReturnType<typeof Type.Union>
    | ReturnType<typeof Type.Array>
  >,
>(
  p: T,
) => Type.Object(p, { additionalProperties: false, default: {} });

/** /etc/homestack/controller.toml. Every key has a default that works for an all-in-one. */
export const ControllerConfigSchema = Type.Object(
  {
    data_dir: Str('/var/lib/homestack', 'directory for the database, token keys and image files'),
    public_url: Str('', 'base URL clients use (default http(s)://<listen host>:<port>, https with tls.enabled)'),
    listen: Section({
      host: Str('0.0.0.0', 'address to bind'),
      port: Int(8000, 1, 'TCP port for every API'),
      headers_timeout_s: Int(30, 1, 'a client must send its request headers within this time (slow-header clients are cut)'),
      idle_timeout_s: Int(
        120,
        1,
        'a connection with no bytes in either direction for this long is closed (a slow upload that keeps sending is not)',
      ),
    }),
    tls: Section({
      enabled: Type.Boolean({
        default: false,
        description: "serve the API over HTTPS (the certificate: cert_file/key_file, else one from the cloud's CA)",
      }),
      cert_file: Str('', 'bring your own: PEM certificate (with its chain); re-read on SIGHUP'),
      key_file: Str('', 'bring your own: PEM private key of cert_file; re-read on SIGHUP'),
      san: Type.Array(Type.String(), {
        default: [],
        description: "more names (DNS or IP) for the CA-issued certificate, beyond public_url's host and the listen addresses",
      }),
      plain_agents: Type.Boolean({
        default: false,
        description:
          "with enabled: the HTTPS port also takes plain HTTP for the agents' channel only (/internal/v1/), for agents not moved to https:// yet (homestack tls enable)",
      }),
    }),
    log: Section({
      level: Type.Union(
        [
          Type.Literal('fatal'),
          Type.Literal('error'),
          Type.Literal('warn'),
          Type.Literal('info'),
          Type.Literal('debug'),
          Type.Literal('trace'),
        ],
        { default: 'info' },
      ),
    }),
    database: Section({
      path: Str('', 'SQLite file (default <data_dir>/homestack.db)'),
      busy_timeout_ms: Int(5000, 0),
    }),
    identity: Section({
      token_ttl_s: Int(3600, 60, 'token lifetime in seconds'),
      max_active_keys: Int(3, 2, 'token keys kept by rotation'),
      lockout_failures: Int(0, 0, 'failed logins before a user is locked out (0 = never)'),
      lockout_s: Int(300, 1),
      policy_file: Str('', 'JSON policy overrides'),
      scrypt_log_n: Int(15, 10, 'password hashing cost: scrypt N = 2^value (r=8, p=1)'),
    }),
    images: Section({
      image_size_cap: Int(1099511627776, 1, 'largest image in bytes'),
      project_storage_quota: Int(-1, -1, 'bytes per project (-1 = unlimited)'),
      store: Type.Union([Type.Literal('file')], {
        default: 'file',
        description: 'driver of the default store "fs" when `stores` is empty (file: <data_dir>/images)',
      }),
      stores: Type.Array(
        Type.Object(
          {
            id: Type.String({
              pattern: '^(?!os_glance)[a-z][a-z0-9_-]{0,63}$',
              description: 'store id clients see (X-Image-Meta-Store, `stores`)',
            }),
            driver: Type.Union([Type.Literal('file')], { default: 'file' }),
            dir: Type.String({ minLength: 1, description: 'directory holding the image files' }),
            description: Type.String({ default: '', description: 'shown by GET /v2/info/stores' }),
          },
          { additionalProperties: false },
        ),
        {
          default: [],
          description:
            'image stores ([[images.stores]] tables); empty: one file store "fs" at <data_dir>/images. With more than one, the copy-image import method is offered',
        },
      ),
      default_store: Str('', 'id of the store new image data goes to unless the client names one (default: the first store)'),
      qemu_img_check: Type.Boolean({
        default: true,
        description: 'also read uploads with qemu-img info (under prlimit) before activating them',
      }),
      parallel_hash: Type.Boolean({
        default: false,
        description:
          'hash SHA-512 on a worker thread beside MD5 (faster uploads on idle cores; the worker costs tens of MB of resident memory)',
      }),
    }),
    image_import: Section({
      methods: Type.Array(Type.Union(IMPORT_METHODS.map((m) => Type.Literal(m))), {
        default: ['glance-direct', 'web-download', 'copy-image'],
        description: 'import methods offered (Glance enabled_import_methods); copy-image only where more than one store exists',
      }),
      allowed_schemes: Type.Array(Type.String(), {
        default: ['http', 'https'],
        description: 'web-download URL schemes allowed (Glance [import_filtering_opts]; an allow list wins over its deny list)',
      }),
      disallowed_schemes: Type.Array(Type.String(), { default: [] }),
      allowed_hosts: Type.Array(Type.String(), { default: [], description: 'host names or IP addresses; empty = any' }),
      disallowed_hosts: Type.Array(Type.String(), { default: [] }),
      allowed_ports: Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), {
        default: [80, 443],
        description: 'explicit URL ports allowed (a URL without a port passes); empty = any',
      }),
      disallowed_ports: Type.Array(Type.Integer({ minimum: 1, maximum: 65535 }), { default: [] }),
      allow_local_addresses: Type.Boolean({
        default: false,
        description:
          'let web-download reach hosts that resolve to loopback (127.0.0.0/8, ::1), link-local (169.254.0.0/16, fe80::/10, the metadata address) or unspecified addresses; checked after DNS resolution, on the address connected to and on every redirect',
      }),
      max_redirects: Int(10, 0, 'redirects a web-download follows, each one checked like the first URL'),
      connect_timeout_s: Int(30, 1, 'web-download: time to connect and receive the response headers'),
      idle_timeout_s: Int(60, 1, 'web-download: a transfer with no bytes for this long fails'),
      max_concurrent: Int(2, 1, 'imports running at once; more wait (task pending)'),
      task_ttl_s: Int(172800, 60, 'finished import tasks are kept this long (Glance task_time_to_live: 48 h)'),
    }),
    compute: Section({
      cpu_allocation_ratio: Num(4, 0.1),
      ram_allocation_ratio: Num(1.0, 0.1),
      disk_allocation_ratio: Num(1.0, 0.1),
      weigher: Type.Union([Type.Literal('spread'), Type.Literal('pack')], { default: 'spread' }),
      build_attempts: Int(3, 1),
      build_timeout_s: Int(1800, 10, 'a spawn not answered within this time fails the attempt (the domain is destroyed)'),
      sync_power_state_s: Int(60, 0, 'seconds between power-state syncs with the compute agents (0 = never)'),
      default_availability_zone: Str('nova', 'zone of hosts that report none'),
      force_config_drive: Type.Boolean({
        default: true,
        description:
          "Nova's force_config_drive: every server gets a config drive; false: only servers created with config_drive true (the others read the metadata service)",
      }),
      quota_instances: Int(10, -1, 'default per-project quota (-1 = unlimited)'),
      quota_cores: Int(20, -1),
      quota_ram: Int(
        -1,
        -1,
        'MiB per project (-1 = unlimited; Nova says 51200): the hosts limit RAM, and a server that fits nowhere ends in ERROR "No valid host"',
      ),
      quota_key_pairs: Int(100, -1, 'per user'),
      quota_metadata_items: Int(128, -1),
      quota_server_groups: Int(10, -1),
      quota_server_group_members: Int(10, -1),
      allow_resize_to_same_host: Type.Boolean({
        default: false,
        description: "Nova's allow_resize_to_same_host: a resize may stay on the server's host",
      }),
      live_migration_downtime_ms: Int(
        500,
        1,
        'the longest pause QEMU aims for when a live migration switches over (libvirt: 300 ms; TCG guests rarely make it)',
      ),
      live_migration_timeout_s: Int(1800, 10, 'a live migration still running after this is aborted (the guest stays)'),
    }),
    network: Section({
      vni_min: Int(1000, 1),
      vni_max: Int(1999, 1),
      underlay_mtu: Int(1500, 1280),
      physical_networks: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
        default: ['public'],
        description: 'physical networks flat provider networks may use (each agent maps them to a bridge)',
      }),
      dhcp_lease_s: Int(86400, 0, 'DHCP lease time given to guests (0 = the agent default)'),
      bind_wait_ms: Int(15000, 0, 'how long binding a port waits for the host agent to converge before compute goes on'),
      resync_s: Int(
        60,
        0,
        "this often, recompute every host's network state and re-send it where it differs from what was last handed over or a sync failed (0 = never)",
      ),
      reschedule_down_s: Int(
        0,
        0,
        'move DHCP servers and routers off a network host that has been down this long (0 = never: a partitioned host could still answer for their addresses)',
      ),
    }),
    volume: Section({
      default_availability_zone: Str('nova', 'zone of volumes and volume hosts'),
      default_volume_type: Str('__DEFAULT__', 'type of volumes created without one'),
      quota_volumes: Int(10, -1, 'default per-project quota (-1 = unlimited)'),
      quota_gigabytes: Int(1000, -1),
      quota_snapshots: Int(10, -1),
      quota_backups: Int(10, -1),
      quota_backup_gigabytes: Int(1000, -1),
      quota_per_volume_gigabytes: Int(-1, -1),
      quota_groups: Int(10, -1),
      operation_wait_s: Int(120, 1, 'how long an attach waits for the volume host to export the volume'),
    }),
    console: Section({
      token_ttl_s: Int(600, 10, 'how long a console URL stays valid; each URL opens one console session'),
      max_sessions: Int(100, 1, 'console websocket sessions proxied at once'),
    }),
    agents: Section({
      down_after_missed: Int(3, 1, 'heartbeats missed before a host is down'),
      heartbeat_s: Int(10, 1),
      dispatch_max_attempts: Int(0, 0, '0 = retry until it succeeds'),
      dispatch_backoff_max_s: Int(30, 1, 'longest wait between two tries of an operation'),
    }),
  },
  { additionalProperties: false },
);

export type ControllerConfig = Static<typeof ControllerConfigSchema>;
