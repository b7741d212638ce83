/**
 * The JSON-schema documents Glance serves at /v2/schemas/metadefs/* (glance/api/v2/
 * metadef_*.py get_schema / get_collection_schema, rendered by glance/schema.py's
 * Schema, CollectionSchema and DictCollectionSchema).
 */

type Doc = Record<string, unknown>;

const str = (description?: string, maxLength?: number): Doc => ({
  type: 'string',
  ...(description ? { description } : {}),
  ...(maxLength ? { maxLength } : {}),
});
const date = (description: string): Doc => ({ type: 'string', description, format: 'date-time' });
const TYPES = ['array', 'boolean', 'integer', 'number', 'object', 'string', null];

/** One property definition's attributes (the `property` definition and the property schema). */
const PROPERTY_ATTRS: Doc = {
  name: { type: 'string', maxLength: 255 },
  title: { type: 'string' },
  description: { type: 'string' },
  operators: { type: 'array', items: { type: 'string' } },
  type: { type: 'string', enum: TYPES },
  required: { $ref: '#/definitions/stringArray' },
  minimum: { type: 'number' },
  maximum: { type: 'number' },
  maxLength: { $ref: '#/definitions/positiveInteger' },
  minLength: { $ref: '#/definitions/positiveIntegerDefault0' },
  pattern: { type: 'string', format: 'regex' },
  enum: { type: 'array' },
  readonly: { type: 'boolean' },
  default: {},
  items: { type: 'object', properties: { type: { type: 'string', enum: TYPES }, enum: { type: 'array' } } },
  maxItems: { $ref: '#/definitions/positiveInteger' },
  minItems: { $ref: '#/definitions/positiveIntegerDefault0' },
  uniqueItems: { type: 'boolean', default: false },
  additionalItems: { type: 'boolean' },
};

const BASE_DEFINITIONS: Doc = {
  positiveInteger: { type: 'integer', minimum: 0 },
  positiveIntegerDefault0: { allOf: [{ $ref: '#/definitions/positiveInteger' }, { default: 0 }] },
  stringArray: { type: 'array', items: { type: 'string' }, uniqueItems: true },
};
const DEFINITIONS: Doc = {
  ...BASE_DEFINITIONS,
  property: {
    type: 'object',
    additionalProperties: { type: 'object', required: ['title', 'type'], properties: PROPERTY_ATTRS },
  },
};

const schema = (name: string, properties: Doc, required: string[], definitions?: Doc): Doc => ({
  name,
  properties,
  additionalProperties: false,
  ...(definitions ? { definitions } : {}),
  required,
});

const LINKS = [
  { rel: 'first', href: '{first}' },
  { rel: 'next', href: '{next}' },
  { rel: 'describedby', href: '{schema}' },
];

/** A list document: the item schema without its definitions, which move up (CollectionSchema). */
function collection(name: string, item: Doc, asDict = false): Doc {
  const { definitions, ...inner } = item;
  const items = asDict ? { type: 'object', additionalProperties: inner } : { type: 'array', items: inner };
  return {
    name,
    properties: { [name]: items, first: { type: 'string' }, next: { type: 'string' }, schema: { type: 'string' } },
    links: LINKS,
    ...(definitions ? { definitions } : {}),
  };
}

const NAMESPACE = schema(
  'namespace',
  {
    namespace: str('The unique namespace text.', 80),
    display_name: str('The user friendly name for the namespace. Used by UI if available.', 80),
    description: str('Provides a user friendly description of the namespace.', 500),
    visibility: { type: 'string', description: 'Scope of namespace accessibility.', enum: ['public', 'private'] },
    protected: { type: 'boolean', description: 'If true, namespace will not be deletable.' },
    owner: str('Owner of the namespace.', 255),
    created_at: date('Date and time of namespace creation'),
    updated_at: date('Date and time of the last namespace modification'),
    schema: { type: 'string', readOnly: true },
    self: { type: 'string', readOnly: true },
    resource_type_associations: {
      type: 'array',
      items: {
        type: 'object',
        properties: { name: { type: 'string' }, prefix: { type: 'string' }, properties_target: { type: 'string' } },
      },
    },
    properties: { $ref: '#/definitions/property' },
    objects: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          name: { type: 'string' },
          description: { type: 'string' },
          required: { $ref: '#/definitions/stringArray' },
          properties: { $ref: '#/definitions/property' },
        },
      },
    },
    tags: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' } } } },
  },
  ['namespace'],
  DEFINITIONS,
);

const OBJECT = schema(
  'object',
  {
    name: str(undefined, 255),
    description: { type: 'string' },
    required: { $ref: '#/definitions/stringArray' },
    properties: { $ref: '#/definitions/property' },
    schema: { type: 'string', readOnly: true },
    self: { type: 'string', readOnly: true },
    created_at: date('Date and time of object creation'),
    updated_at: date('Date and time of the last object modification'),
  },
  ['name'],
  DEFINITIONS,
);

const PROPERTY = schema('property', PROPERTY_ATTRS, ['name', 'title', 'type'], BASE_DEFINITIONS);

const RESOURCE_TYPE = schema(
  'resource_type_association',
  {
    name: str(
      'Resource type names should be aligned with Heat resource types whenever possible: https://docs.openstack.org/heat/latest/template_guide/openstack.html',
      80,
    ),
    prefix: str(
      'Specifies the prefix to use for the given resource type. Any properties in the namespace should be prefixed with this prefix when being applied to the specified resource type. Must include prefix separator (e.g. a colon :).',
      80,
    ),
    properties_target: str(
      'Some resource types allow more than one key / value pair per instance.  For example, Cinder allows user and image metadata on volumes. Only the image properties metadata is evaluated by Nova (scheduling or drivers). This property allows a namespace target to remove the ambiguity.',
      80,
    ),
    created_at: date('Date and time of resource type association'),
    updated_at: date('Date and time of the last resource type association modification'),
  },
  ['name'],
);

const TAG = schema(
  'tag',
  {
    name: str(undefined, 255),
    created_at: date('Date and time of tag creation'),
    updated_at: date('Date and time of the last tag modification'),
  },
  ['name'],
);

/** Path under /v2/schemas/metadefs/ → document. */
export const METADEF_SCHEMAS: Record<string, Doc> = {
  namespace: NAMESPACE,
  namespaces: collection('namespaces', NAMESPACE),
  object: OBJECT,
  objects: collection('objects', OBJECT),
  property: PROPERTY,
  properties: collection('properties', PROPERTY, true),
  resource_type: RESOURCE_TYPE,
  resource_types: collection('resource_type_associations', RESOURCE_TYPE),
  tag: TAG,
  tags: collection('tags', TAG),
};
