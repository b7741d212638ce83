import { Type, type Static, type TSchema, type TUnsafe } from 'typebox';

/**
 * Keystone v3 request bodies, after Keystone's own JSON schemas
 * (keystone/{resource,identity,assignment,catalog,application_credential,auth}/schema.py,
 * keystone/common/validation/parameter_types.py). Each schema is the member object a
 * route reads from its envelope (`{"project": {...}}` → ProjectCreate), as Keystone
 * validates `request_body_json.get('project', {})`; unknown attributes stay allowed
 * (Keystone keeps them as "extra") unless Keystone forbids them. Nullable attributes are
 * `type: [T, 'null']` like Keystone's `validation.nullable`, so a refusal reads as
 * Keystone's does ("1 is not of type 'string', 'null'").
 *
 * Not here: role inference (PUT /v3/roles/{prior}/implies/{implied}) has no body.
 */

/** Keystone's `validation.nullable(...)`: the same schema with `null` added to its type. */
function nullable<T extends TSchema>(t: T): TUnsafe<Static<T> | null> {
  const { type, ...rest } = t as unknown as { type: string } & Record<string, unknown>;
  return Type.Unsafe<Static<T> | null>({ ...rest, type: [type, 'null'] });
}
/** A string from a closed list (Keystone's `{'type': 'string', 'enum': [...]}`). */
const oneOf = <const V extends readonly string[]>(values: V) => Type.Unsafe<V[number]>({ type: 'string', enum: [...values] });
const opt = Type.Optional;

// keystone/common/validation/parameter_types.py
/** parameter_types.name */
const Name = Type.String({ minLength: 1, maxLength: 255, pattern: '[\\S]+' });
/** parameter_types.id_string (also domain_id and project_id) */
const IdString = Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-zA-Z0-9-]+$' });
/** parameter_types.description: any length */
const Description = Type.String();
/** parameter_types.boolean: `{'type': 'boolean', 'enum': [True, False]}` */
const Bool = Type.Boolean();
/** parameter_types.url: Keystone's 225 (sic) characters and RFC 1738's scheme prefix */
const Url = Type.String({ minLength: 0, maxLength: 225, pattern: '^[a-zA-Z0-9+.-]+:.+' });

// Resource options (keystone/*/resource_options.py): every option nullable, nothing else.
const ImmutableOptions = Type.Object({ immutable: opt(nullable(Bool)) }, { additionalProperties: false });
const UserOptions = Type.Object(
  {
    ignore_change_password_upon_first_use: opt(nullable(Bool)),
    ignore_password_expiry: opt(nullable(Bool)),
    ignore_lockout_failure_attempts: opt(nullable(Bool)),
    lock_password: opt(nullable(Bool)),
    ignore_user_inactivity: opt(nullable(Bool)),
    multi_factor_auth_rules: opt(
      nullable(Type.Array(Type.Array(Type.String(), { minItems: 1, uniqueItems: true }), { uniqueItems: true })),
    ),
    multi_factor_auth_enabled: opt(nullable(Bool)),
  },
  { additionalProperties: false },
);

// keystone/resource/schema.py: domains and projects (names at most 64 characters)
const ResourceName = Type.String({ minLength: 1, maxLength: 64, pattern: '[\\S]+' });
const Tags = Type.Array(Type.String({ minLength: 1, maxLength: 255, pattern: '^[^,/]*$' }), {
  maxItems: 80,
  uniqueItems: true,
});
const domainProps = {
  description: opt(nullable(Description)),
  enabled: opt(Bool),
  name: ResourceName,
  tags: opt(Tags),
  options: opt(ImmutableOptions),
};
export const DomainCreate = Type.Object({ ...domainProps, explicit_domain_id: opt(IdString) }, { additionalProperties: true });
export type DomainCreate = Static<typeof DomainCreate>;
export const DomainUpdate = Type.Partial(Type.Object(domainProps), { additionalProperties: true, minProperties: 1 });
export type DomainUpdate = Static<typeof DomainUpdate>;

/** PUT /v3/projects/{id}/tags: the `tags` member (keystone/resource/schema.py project_tags_update). */
export const ProjectTags = Tags;
/** PUT /v3/projects/{id}/tags/{tag}: one tag (project_tag_create). */
export const ProjectTag = Tags.items;

const projectProps = {
  ...domainProps,
  domain_id: opt(nullable(IdString)),
  is_domain: opt(Bool),
  parent_id: opt(nullable(IdString)),
};
export const ProjectCreate = Type.Object(projectProps, { additionalProperties: true });
export type ProjectCreate = Static<typeof ProjectCreate>;
export const ProjectUpdate = Type.Partial(Type.Object(projectProps), { additionalProperties: true, minProperties: 1 });
export type ProjectUpdate = Static<typeof ProjectUpdate>;

// keystone/identity/schema.py: users, groups, password change
const userProps = {
  default_project_id: opt(nullable(IdString)),
  description: opt(nullable(Description)),
  domain_id: opt(IdString),
  enabled: opt(Bool),
  federated: opt(
    Type.Array(
      Type.Object({
        idp_id: Type.String(),
        protocols: Type.Array(Type.Object({ protocol_id: Type.String(), unique_id: Type.String() }), { minItems: 1 }),
      }),
    ),
  ),
  name: Name,
  /** Keystone: `['string', 'null']`; the 4096 cap is Keystone's max_password_length (a bound on hashing work). */
  password: opt(nullable(Type.String({ maxLength: 4096 }))),
  options: opt(UserOptions),
};
export const UserCreate = Type.Object(userProps, { additionalProperties: true });
export type UserCreate = Static<typeof UserCreate>;
export const UserUpdate = Type.Partial(Type.Object(userProps), { additionalProperties: true, minProperties: 1 });
export type UserUpdate = Static<typeof UserUpdate>;

/** POST /v3/users/{id}/password, the `user` member. */
export const PasswordChange = Type.Object(
  { original_password: Type.String(), password: Type.String({ maxLength: 4096 }) },
  { additionalProperties: false },
);
export type PasswordChange = Static<typeof PasswordChange>;

const groupProps = { description: opt(nullable(Description)), domain_id: opt(IdString), name: Name };
export const GroupCreate = Type.Object(groupProps, { additionalProperties: true });
export type GroupCreate = Static<typeof GroupCreate>;
export const GroupUpdate = Type.Partial(Type.Object(groupProps), { additionalProperties: true, minProperties: 1 });
export type GroupUpdate = Static<typeof GroupUpdate>;

// keystone/assignment/schema.py: roles
const roleProps = {
  name: Name,
  description: opt(nullable(Description)),
  domain_id: opt(nullable(IdString)),
  options: opt(ImmutableOptions),
};
export const RoleCreate = Type.Object(roleProps, { additionalProperties: true });
export type RoleCreate = Static<typeof RoleCreate>;
export const RoleUpdate = Type.Partial(Type.Object(roleProps), { additionalProperties: true, minProperties: 1 });
export type RoleUpdate = Static<typeof RoleUpdate>;

// keystone/catalog/schema.py: regions, services, endpoints
const regionProps = {
  description: opt(nullable(Description)),
  id: opt(Type.String()),
  parent_region_id: opt(nullable(Type.String())),
};
export const RegionCreate = Type.Object(regionProps, { additionalProperties: true });
export type RegionCreate = Static<typeof RegionCreate>;
export const RegionUpdate = Type.Object(regionProps, { additionalProperties: true, minProperties: 1 });
export type RegionUpdate = Static<typeof RegionUpdate>;

const serviceProps = {
  enabled: opt(Bool),
  type: Type.String({ minLength: 1, maxLength: 255 }),
  name: opt(Type.String({ minLength: 1, maxLength: 255 })),
  /** An "extra" attribute to Keystone; a nullable string here because it has a column. */
  description: opt(nullable(Description)),
};
export const ServiceCreate = Type.Object(serviceProps, { additionalProperties: true });
export type ServiceCreate = Static<typeof ServiceCreate>;
export const ServiceUpdate = Type.Partial(Type.Object(serviceProps), { additionalProperties: true, minProperties: 1 });
export type ServiceUpdate = Static<typeof ServiceUpdate>;

export const INTERFACES = ['admin', 'internal', 'public'] as const;
const endpointProps = {
  enabled: opt(Bool),
  interface: oneOf(INTERFACES),
  region_id: opt(nullable(Type.String())),
  /** Deprecated in v3.2 for region_id; keystoneclient still sends it. */
  region: opt(nullable(Type.String())),
  service_id: Type.String(),
  url: Url,
  name: opt(Type.String()),
  description: opt(nullable(Type.String())),
};
export const EndpointCreate = Type.Object(endpointProps, { additionalProperties: true });
export type EndpointCreate = Static<typeof EndpointCreate>;
export const EndpointUpdate = Type.Partial(Type.Object(endpointProps), { additionalProperties: true, minProperties: 1 });
export type EndpointUpdate = Static<typeof EndpointUpdate>;

// keystone/application_credential/schema.py
export const AppCredCreate = Type.Object(
  {
    name: Name,
    description: opt(nullable(Description)),
    secret: opt(nullable(Type.String())),
    expires_at: opt(nullable(Type.String())),
    /** Each role by id or by name (exactly one of them). */
    roles: opt(
      Type.Array(
        Type.Object({ id: opt(IdString), name: opt(Name) }, { minProperties: 1, maxProperties: 1, additionalProperties: false }),
      ),
    ),
    unrestricted: opt(Bool),
    access_rules: opt(
      Type.Array(
        Type.Object(
          {
            path: opt(Type.String({ minLength: 0, maxLength: 225, pattern: '^\\/.*' })),
            method: opt(Type.String({ pattern: '^(POST|GET|HEAD|PATCH|PUT|DELETE)$' })),
            service: opt(IdString),
            id: opt(IdString),
          },
          { additionalProperties: false },
        ),
      ),
    ),
  },
  { additionalProperties: true },
);
export type AppCredCreate = Static<typeof AppCredCreate>;

// keystone/auth/schema.py: token_issue, the `auth` member of POST /v3/auth/tokens
const IdName = Type.Object({ id: opt(Type.String()), name: opt(Type.String()) });
export const AuthScope = Type.Object({
  project: opt(Type.Object({ name: opt(Type.String()), id: opt(Type.String()), domain: opt(IdName) })),
  domain: opt(IdName),
  'OS-TRUST:trust': opt(Type.Object({ id: opt(Type.String()) })),
  system: opt(Type.Object({ all: opt(Bool) })),
});
export const AuthRequest = Type.Object({
  identity: Type.Object({
    methods: Type.Array(Type.String()),
    password: opt(
      Type.Object({
        user: opt(
          Type.Object({ id: opt(Type.String()), name: opt(Type.String()), password: opt(Type.String()), domain: opt(IdName) }),
        ),
      }),
    ),
    token: opt(Type.Object({ id: Type.String() })),
    /** Not in Keystone's token_issue (the plugin checks it): id, or name and user; the secret. */
    application_credential: opt(
      Type.Object({
        id: opt(Type.String()),
        name: opt(Type.String()),
        secret: opt(Type.String()),
        user: opt(Type.Object({ id: opt(Type.String()), name: opt(Type.String()), domain: opt(IdName) })),
      }),
    ),
  }),
  /** "unscoped", or an object (old keystoneauth sends `{"unscoped": {}}`). */
  scope: opt(Type.Unsafe<string | Static<typeof AuthScope>>({ ...AuthScope, type: ['object', 'string'] })),
});
export type AuthRequest = Static<typeof AuthRequest>;

// keystone/credential/schema.py: blobs are strings (a JSON text for 'ec2')
const credentialProps = { blob: Type.String(), project_id: opt(Type.String()), type: Type.String(), user_id: Type.String() };
export const CredentialCreate = Type.Object(credentialProps, { additionalProperties: true });
export type CredentialCreate = Static<typeof CredentialCreate>;
export const CredentialUpdate = Type.Partial(Type.Object(credentialProps), { additionalProperties: true, minProperties: 1 });
export type CredentialUpdate = Static<typeof CredentialUpdate>;
/** POST /v3/users/{id}/credentials/OS-EC2: the body itself, no envelope (keystone/api/users.py). */
export const Ec2Create = Type.Object({ tenant_id: Type.String() }, { additionalProperties: true });
export type Ec2Create = Static<typeof Ec2Create>;

// keystone/policy/schema.py
const policyProps = { blob: Type.String(), type: Type.String({ maxLength: 255 }) };
export const PolicyCreate = Type.Object(policyProps, { additionalProperties: true });
export type PolicyCreate = Static<typeof PolicyCreate>;
export const PolicyUpdate = Type.Partial(Type.Object(policyProps), { additionalProperties: true, minProperties: 1 });
export type PolicyUpdate = Static<typeof PolicyUpdate>;

// keystone/catalog/schema.py: OS-EP-FILTER endpoint groups
const endpointGroupProps = {
  description: opt(nullable(Description)),
  name: Name,
  filters: Type.Object({}, { additionalProperties: true }),
};
export const EndpointGroupCreate = Type.Object(endpointGroupProps, { additionalProperties: true });
export type EndpointGroupCreate = Static<typeof EndpointGroupCreate>;
export const EndpointGroupUpdate = Type.Partial(Type.Object(endpointGroupProps), {
  additionalProperties: true,
  minProperties: 1,
});
export type EndpointGroupUpdate = Static<typeof EndpointGroupUpdate>;
