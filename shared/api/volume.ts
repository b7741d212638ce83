import { Type, type Static } from 'typebox';

/**
 * Cinder v3 request bodies (what cinderclient 9.1 and openstacksdk 0.101 send). Real
 * clients send explicit nulls for every optional field (api notes 1.0 item 11), so
 * optional fields accept null; unknown fields are tolerated as Cinder does.
 */
const N = <T extends ReturnType<typeof Type.String>>(t: T) => Type.Optional(Type.Union([t, Type.Null()]));
const Meta = Type.Record(Type.String({ maxLength: 255 }), Type.String({ maxLength: 255 }));
const SizeGb = Type.Integer({ minimum: 1, maximum: 65536 });
/** Sizes arrive as numbers or numeric strings ("size": "1"). */
const SizeIn = Type.Union([SizeGb, Type.String({ pattern: '^[0-9]{1,5}$' })]);

export const VolumeCreate = Type.Object(
  {
    volume: Type.Object(
      {
        size: Type.Optional(Type.Union([SizeIn, Type.Null()])),
        name: N(Type.String({ maxLength: 255 })),
        display_name: N(Type.String({ maxLength: 255 })),
        description: N(Type.String({ maxLength: 255 })),
        display_description: N(Type.String({ maxLength: 255 })),
        volume_type: N(Type.String({ maxLength: 255 })),
        availability_zone: N(Type.String({ maxLength: 255 })),
        metadata: Type.Optional(Type.Union([Meta, Type.Null()])),
        imageRef: N(Type.String({ maxLength: 255 })),
        image_id: N(Type.String({ maxLength: 255 })),
        snapshot_id: N(Type.String({ maxLength: 255 })),
        source_volid: N(Type.String({ maxLength: 255 })),
        backup_id: N(Type.String({ maxLength: 255 })),
        consistencygroup_id: N(Type.String({ maxLength: 255 })),
        group_id: N(Type.String({ maxLength: 255 })),
        multiattach: Type.Optional(Type.Union([Type.Boolean(), Type.Null()])),
      },
      { additionalProperties: true },
    ),
    'OS-SCH-HNT:scheduler_hints': Type.Optional(Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()])),
  },
  { additionalProperties: true },
);
export type VolumeCreate = Static<typeof VolumeCreate>;

export const VolumeUpdate = Type.Object(
  {
    volume: Type.Object(
      {
        name: N(Type.String({ maxLength: 255 })),
        display_name: N(Type.String({ maxLength: 255 })),
        description: N(Type.String({ maxLength: 255 })),
        display_description: N(Type.String({ maxLength: 255 })),
        metadata: Type.Optional(Type.Union([Meta, Type.Null()])),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

export const SnapshotCreate = Type.Object(
  {
    snapshot: Type.Object(
      {
        // null is let through: Cinder looks the volume up and answers 404 "Volume None could not be found."
        volume_id: Type.Union([Type.String({ minLength: 1, maxLength: 255 }), Type.Null()]),
        name: N(Type.String({ maxLength: 255 })),
        display_name: N(Type.String({ maxLength: 255 })),
        description: N(Type.String({ maxLength: 255 })),
        display_description: N(Type.String({ maxLength: 255 })),
        force: Type.Optional(Type.Union([Type.Boolean(), Type.String(), Type.Null()])),
        metadata: Type.Optional(Type.Union([Meta, Type.Null()])),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

export const SnapshotUpdate = Type.Object(
  {
    snapshot: Type.Object(
      {
        name: N(Type.String({ maxLength: 255 })),
        display_name: N(Type.String({ maxLength: 255 })),
        description: N(Type.String({ maxLength: 255 })),
        display_description: N(Type.String({ maxLength: 255 })),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

/** POST and PUT /{volumes|snapshots}/{id}/metadata (cinder/api/schemas/volume_metadata.py: keys 1–255, values ≤255). */
const MetaKeyed = Type.Record(Type.String({ pattern: '^[\\s\\S]{1,255}$' }), Type.String({ maxLength: 255 }), {
  additionalProperties: false,
});
export const MetadataBody = Type.Object({ metadata: MetaKeyed }, { additionalProperties: true });

/** PUT /{volumes|snapshots}/{id}/metadata/{key}: one item under `meta`. */
export const MetaItemBody = Type.Object({ meta: MetaKeyed }, { additionalProperties: true });

/** os-initialize_connection / os-terminate_connection connector (os-brick's shape). */
export const ConnectorIn = Type.Object(
  {
    initiator: Type.String({ pattern: '^(iqn|eui|naa)\\.[A-Za-z0-9.:_-]{1,200}$' }),
    ip: Type.Optional(Type.Union([Type.String({ maxLength: 64 }), Type.Null()])),
    host: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
  },
  { additionalProperties: true },
);

export const AttachmentCreate = Type.Object(
  {
    attachment: Type.Object(
      {
        volume_uuid: Type.String({ minLength: 1, maxLength: 255 }),
        instance_uuid: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
        connector: Type.Optional(Type.Union([ConnectorIn, Type.Null()])),
        mode: Type.Optional(Type.Union([Type.Literal('rw'), Type.Literal('ro'), Type.Null()])),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

export const AttachmentUpdate = Type.Object(
  {
    attachment: Type.Object({ connector: ConnectorIn }, { additionalProperties: true }),
  },
  { additionalProperties: true },
);

export const QuotaUpdate = Type.Object(
  {
    quota_set: Type.Record(Type.String(), Type.Union([Type.Integer({ minimum: -1 }), Type.String({ pattern: '^-?[0-9]+$' })])),
  },
  { additionalProperties: true },
);

/** Cinder's parameter_types.boolean: a JSON boolean or one of its strings. */
const BoolIn = Type.Union([
  Type.Boolean(),
  Type.String({
    pattern: '^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|[Yy][Ee][Ss]|[Nn][Oo]|[Oo][Nn]|[Oo][Ff][Ff]|1|0|[Tt]|[Ff]|[Yy]|[Nn])$',
  }),
]);
const UuidIn = Type.String({ pattern: '^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$' });

/** PUT /types/{id} (cinder/api/schemas/volume_types.py update). */
export const TypeUpdate = Type.Object(
  {
    volume_type: Type.Object(
      {
        name: N(Type.String({ minLength: 1, maxLength: 255 })),
        description: N(Type.String({ maxLength: 255 })),
        is_public: Type.Optional(Type.Union([BoolIn, Type.Null()])),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

export const TypeCreate = Type.Object(
  {
    volume_type: Type.Object(
      {
        name: Type.String({ minLength: 1, maxLength: 255 }),
        description: N(Type.String({ maxLength: 255 })),
        'os-volume-type-access:is_public': Type.Optional(Type.Union([Type.Boolean(), Type.String()])),
        extra_specs: Type.Optional(Type.Record(Type.String(), Type.String())),
      },
      { additionalProperties: true },
    ),
  },
  { additionalProperties: true },
);

/** POST /backups at 3.0 (cinder/api/schemas/backups.py `create`: no other field). */
export const BackupCreate = Type.Object(
  {
    backup: Type.Object(
      {
        volume_id: UuidIn,
        container: Type.Optional(Type.Union([Type.String({ maxLength: 255 }), Type.Null()])),
        description: N(Type.String({ maxLength: 255 })),
        incremental: Type.Optional(BoolIn),
        force: Type.Optional(BoolIn),
        name: N(Type.String({ maxLength: 255 })),
        snapshot_id: Type.Optional(Type.Union([UuidIn, Type.Null()])),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** POST /backups/{id}/restore (`restore` may be null: a new volume with the default name). */
export const BackupRestore = Type.Object(
  {
    restore: Type.Union([
      Type.Object(
        { name: N(Type.String({ maxLength: 255 })), volume_id: Type.Optional(Type.Union([UuidIn, Type.Null()])) },
        { additionalProperties: false },
      ),
      Type.Null(),
    ]),
  },
  { additionalProperties: false },
);

/** POST /backups/import_record. */
export const BackupImport = Type.Object(
  {
    'backup-record': Type.Object(
      {
        backup_service: Type.String({ minLength: 0, maxLength: 255 }),
        backup_url: Type.String({ minLength: 1, maxLength: 1_000_000 }),
      },
      { additionalProperties: false },
    ),
  },
  { additionalProperties: false },
);

/** Cinder's strutils.bool_from_string(strict=True) on what BoolIn let through. */
export const boolIn = (v: boolean | string | undefined): boolean =>
  typeof v === 'boolean' ? v : v !== undefined && ['true', 'yes', 'on', '1', 't', 'y'].includes(v.toLowerCase());
