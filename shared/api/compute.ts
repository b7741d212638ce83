import { Type, type Static, type TSchema } from 'typebox';

/**
 * Nova v2.1 request bodies (what novaclient, the SDK and OSC send: api notes 1.5).
 * Unknown attributes are tolerated where clients add fields we do not model; known
 * ones are type-checked and the error names the attribute. Nulls are accepted where
 * Nova accepts them (flavor `id: null`, `{"os-stop": null}`).
 */
const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);
const Open = { additionalProperties: true } as const;
const Closed = { additionalProperties: false } as const;
/** Nova accepts integers or their decimal string for counts and sizes. */
const IntLike = (o: { minimum?: number; maximum?: number } = {}) =>
  Type.Union([Type.Integer(o), Type.String({ pattern: '^-?[0-9]+$' })]);
const Name = Type.String({ minLength: 1, maxLength: 255 });
const Metadata = Type.Record(Type.String({ minLength: 1, maxLength: 255 }), Type.String({ maxLength: 255 }));

export const NetworkRequest = Type.Object(
  {
    uuid: Type.Optional(Type.String()),
    port: Type.Optional(Nullable(Type.String())),
    fixed_ip: Type.Optional(Type.String()),
    tag: Type.Optional(Type.String()),
  },
  Open,
);

export const BlockDeviceMapping = Type.Object(
  {
    uuid: Type.Optional(Nullable(Type.String())),
    source_type: Type.Optional(
      Type.Union([Type.Literal('volume'), Type.Literal('image'), Type.Literal('snapshot'), Type.Literal('blank')]),
    ),
    destination_type: Type.Optional(Type.Union([Type.Literal('volume'), Type.Literal('local')])),
    boot_index: Type.Optional(Nullable(IntLike())),
    volume_size: Type.Optional(Nullable(IntLike({ minimum: 1 }))),
    delete_on_termination: Type.Optional(Type.Boolean()),
    device_name: Type.Optional(Nullable(Type.String())),
  },
  Open,
);

export const ServerCreate = Type.Object(
  {
    server: Type.Object(
      {
        name: Name,
        imageRef: Type.Optional(Nullable(Type.String())),
        flavorRef: Type.Union([Type.String({ minLength: 1 }), Type.Integer()]),
        networks: Type.Optional(Type.Union([Type.Literal('auto'), Type.Literal('none'), Type.Array(NetworkRequest)])),
        key_name: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
        user_data: Type.Optional(Nullable(Type.String({ maxLength: 65535 }))),
        config_drive: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
        availability_zone: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
        min_count: Type.Optional(IntLike({ minimum: 1 })),
        max_count: Type.Optional(IntLike({ minimum: 1 })),
        metadata: Type.Optional(Metadata),
        security_groups: Type.Optional(Type.Array(Type.Object({ name: Type.String() }, Open))),
        block_device_mapping_v2: Type.Optional(Type.Array(BlockDeviceMapping)),
        adminPass: Type.Optional(Type.String()),
        accessIPv4: Type.Optional(Type.String()),
        accessIPv6: Type.Optional(Type.String()),
        description: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
        'OS-DCF:diskConfig': Type.Optional(Type.String()),
        return_reservation_id: Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
      },
      Open,
    ),
    'OS-SCH-HNT:scheduler_hints': Type.Optional(
      Type.Object(
        {
          group: Type.Optional(Type.String()),
          same_host: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
          different_host: Type.Optional(Type.Union([Type.String(), Type.Array(Type.String())])),
        },
        Open,
      ),
    ),
  },
  Open,
);
export type ServerCreate = Static<typeof ServerCreate>;

export const ServerUpdate = Type.Object(
  {
    server: Type.Object(
      {
        name: Type.Optional(Name),
        description: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
        accessIPv4: Type.Optional(Type.String()),
        accessIPv6: Type.Optional(Type.String()),
        'OS-DCF:diskConfig': Type.Optional(Type.String()),
      },
      Closed,
    ),
  },
  Closed,
);

export const RebootAction = Type.Object({ type: Type.String({ pattern: '^([sS][oO][fF][tT]|[hH][aA][rR][dD])$' }) }, Open);
export const CreateImageAction = Type.Object({ name: Name, metadata: Type.Optional(Metadata) }, Open);
/** Nova's createBackup (schemas/create_backup.py): rotation a non-negative integer (or its string). */
export const CreateBackupAction = Type.Object(
  { name: Name, backup_type: Type.String(), rotation: IntLike({ minimum: 0 }), metadata: Type.Optional(Metadata) },
  Closed,
);
export const ConsoleOutputAction = Nullable(Type.Object({ length: Type.Optional(Nullable(IntLike({ minimum: -1 }))) }, Open));
export const ResetStateAction = Type.Object({ state: Type.Union([Type.Literal('active'), Type.Literal('error')]) }, Closed);
export const RebuildAction = Type.Object(
  {
    imageRef: Type.String({ minLength: 1 }),
    name: Type.Optional(Name),
    metadata: Type.Optional(Metadata),
    adminPass: Type.Optional(Type.String()),
    /** 2.19 */
    description: Type.Optional(Nullable(Type.String({ maxLength: 255 }))),
  },
  Open,
);
export const LockAction = Nullable(Type.Object({ locked_reason: Type.Optional(Type.String()) }, Open));

export const FlavorCreate = Type.Object(
  {
    flavor: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 255 }),
        id: Type.Optional(Nullable(Type.String({ minLength: 1, maxLength: 255, pattern: '^(?! )[a-zA-Z0-9. _-]+(?<! )$' }))),
        ram: IntLike({ minimum: 1 }),
        vcpus: IntLike({ minimum: 1 }),
        disk: IntLike({ minimum: 0 }),
        'OS-FLV-EXT-DATA:ephemeral': Type.Optional(IntLike({ minimum: 0 })),
        swap: Type.Optional(Type.Union([IntLike({ minimum: 0 }), Type.Literal('')])),
        rxtx_factor: Type.Optional(Type.Number({ exclusiveMinimum: 0 })),
        'os-flavor-access:is_public': Type.Optional(Type.Boolean()),
        description: Type.Optional(Nullable(Type.String({ maxLength: 65535 }))),
      },
      Open,
    ),
  },
  Open,
);
export type FlavorCreate = Static<typeof FlavorCreate>;

export const ExtraSpecs = Type.Object(
  {
    extra_specs: Type.Record(
      Type.String({ minLength: 1, maxLength: 255 }),
      Type.Union([Type.String({ maxLength: 255 }), Type.Number(), Type.Boolean()]),
    ),
  },
  Closed,
);
export const FlavorAccessAction = Type.Object({ tenant: Type.String({ minLength: 1 }) }, Open);

export const KeypairCreate = Type.Object(
  {
    keypair: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 255, pattern: '^[a-zA-Z0-9 _.@-]+$' }),
        public_key: Type.Optional(Type.String({ minLength: 1 })),
        type: Type.Optional(Type.Union([Type.Literal('ssh'), Type.Literal('x509')])),
        user_id: Type.Optional(Type.String()),
      },
      Open,
    ),
  },
  Open,
);
export type KeypairCreate = Static<typeof KeypairCreate>;

export const QUOTA_RESOURCES = [
  'instances',
  'cores',
  'ram',
  'key_pairs',
  'metadata_items',
  'server_groups',
  'server_group_members',
  'injected_files',
  'injected_file_content_bytes',
  'injected_file_path_bytes',
] as const;
export const LEGACY_QUOTA_RESOURCES = ['fixed_ips', 'floating_ips', 'security_groups', 'security_group_rules'] as const;
export const QuotaUpdate = Type.Object(
  {
    quota_set: Type.Record(Type.String(), Type.Union([IntLike({ minimum: -1 }), Type.Boolean(), Type.String()])),
  },
  Open,
);

export const ServerGroupCreate = Type.Object(
  {
    server_group: Type.Object(
      {
        name: Name,
        policies: Type.Optional(
          Type.Array(
            Type.Union([
              Type.Literal('affinity'),
              Type.Literal('anti-affinity'),
              Type.Literal('soft-affinity'),
              Type.Literal('soft-anti-affinity'),
            ]),
            { minItems: 1, maxItems: 1 },
          ),
        ),
        policy: Type.Optional(Type.String()),
        rules: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
      },
      Open,
    ),
  },
  Open,
);

export const ServiceUpdate = Type.Object(
  {
    host: Type.Optional(Type.String()),
    binary: Type.Optional(Type.String()),
    disabled_reason: Type.Optional(Type.String({ maxLength: 255 })),
    status: Type.Optional(Type.Union([Type.Literal('enabled'), Type.Literal('disabled')])),
    forced_down: Type.Optional(Type.Boolean()),
  },
  Open,
);
