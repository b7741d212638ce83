import {
  MetadefAssociationBody,
  MetadefNamespaceBody,
  type MetadefAssociationBody as AssociationBody,
  type MetadefNamespaceBody as NamespaceBody,
} from '../../shared/api/image.js';
import { BadRequest, Conflict, Forbidden, NotFound } from '../../shared/errors/index.js';
import { isoSeconds } from '../../shared/util/time.js';
import type { AuthContext, Policy } from '../http/auth.js';
import type { AssociationRow, MetadefRepo, NamespaceFilter, NamespaceRow } from './metadefs.repo.js';
import {
  associationView,
  checkBody,
  namespaceView,
  objectView,
  propertyDefinition,
  READ_ONLY_ATTRS,
  resourceTypeView,
} from './metadefs.views.js';

export const now = () => isoSeconds(new Date());

const SORT_KEYS = ['created_at', 'updated_at', 'namespace'] as const;
const LIMIT_DEFAULT = 25;
const LIMIT_MAX = 1000;

export interface NamespaceListQuery {
  limit?: string;
  marker?: string;
  sort_key?: string;
  sort_dir?: string;
  visibility?: string;
  resource_types?: string;
}

/** A unique-key failure (Glance's Duplicate). */
export const isDuplicate = (e: unknown) =>
  ['SQLITE_CONSTRAINT_PRIMARYKEY', 'SQLITE_CONSTRAINT_UNIQUE'].includes((e as { code?: string }).code ?? '');

/**
 * Glance's metadata definitions catalog: namespaces, their resource type associations,
 * and the namespace gate the objects, properties and tags go through. Who may write is
 * policy (Glance's defaults: metadef_admin); who sees a namespace is decided here as
 * Glance's db layer does: admin all, others public ones and their project's.
 */
export class MetadefService {
  constructor(
    readonly repo: MetadefRepo,
    private readonly policy: Policy,
  ) {}

  enforce(action: string, ctx: AuthContext, n?: NamespaceRow): void {
    this.policy.enforce(`image:${action}`, ctx, { project_id: n ? n.owner : (ctx.projectId ?? null) });
  }

  /** The namespace if the caller may see it; 404 as Glance answers for one that is hidden. */
  namespace(ctx: AuthContext, name: string): NamespaceRow {
    const n = this.repo.getNamespace(name);
    const visible = n && (ctx.isAdmin || n.owner === null || n.visibility === 'public' || n.owner === ctx.projectId);
    if (!n || !visible) throw new NotFound(`Metadata definition namespace=${name} was not found.`);
    return n;
  }

  /** The namespace, checked for `action`; a delete in a protected namespace is refused with `protectedMessage` (403). */
  forWrite(ctx: AuthContext, name: string, action: string, protectedMessage?: string): NamespaceRow {
    this.enforce(action, ctx);
    const n = this.namespace(ctx, name);
    this.enforce(action, ctx, n);
    if (protectedMessage && n.protected) throw new Forbidden(protectedMessage);
    return n;
  }

  list(ctx: AuthContext, q: NamespaceListQuery) {
    this.enforce('get_metadef_namespaces', ctx);
    const sortDir = q.sort_dir ?? 'desc';
    if (sortDir !== 'asc' && sortDir !== 'desc') throw new BadRequest(`Invalid sort direction: ${sortDir}`);
    const sortKey = q.sort_key ?? 'created_at';
    if (!(SORT_KEYS as readonly string[]).includes(sortKey)) throw new BadRequest(`Invalid sort key: ${sortKey}`);
    if (q.visibility !== undefined && q.visibility !== 'public' && q.visibility !== 'private') {
      throw new BadRequest(`Invalid visibility value: ${q.visibility}`);
    }
    let limit = LIMIT_DEFAULT;
    if (q.limit !== undefined) {
      if (!/^-?\d+$/.test(q.limit)) throw new BadRequest('limit param must be an integer');
      limit = Number(q.limit);
      if (limit < 0) throw new BadRequest('limit param must be positive');
    }
    limit = Math.min(limit, LIMIT_MAX);
    const f: NamespaceFilter = {
      viewer: ctx.isAdmin ? null : (ctx.projectId ?? ''),
      sortKey: sortKey as NamespaceFilter['sortKey'],
      sortDir,
      limit,
    };
    if (q.visibility) f.visibility = q.visibility as 'public' | 'private';
    if (q.resource_types) f.resourceTypes = q.resource_types.split(',').map((s) => s.trim());
    if (q.marker !== undefined) f.after = this.namespace(ctx, q.marker);
    const rows = this.repo.listNamespaces(f);
    const namespaces = rows.map((n) => {
      const assoc = this.repo.listAssociations(n.namespace).map(associationView);
      return { ...namespaceView(n), ...(assoc.length ? { resource_type_associations: assoc } : {}) };
    });
    return { namespaces, next: rows.length > 0 && rows.length === limit ? rows[rows.length - 1]!.namespace : undefined };
  }

  /** A namespace with everything in it; `resourceType` shows names with that association's prefix. */
  show(ctx: AuthContext, name: string, resourceType?: string): Record<string, unknown> {
    this.enforce('get_metadef_namespace', ctx);
    const n = this.namespace(ctx, name);
    const assoc = this.repo.listAssociations(n.namespace);
    const prefix = (resourceType && assoc.find((a) => a.name === resourceType)?.prefix) || '';
    const objects = this.repo.listObjects(n.namespace).map((o) => objectView(o, prefix));
    const props = this.repo.listProperties(n.namespace);
    const tags = this.repo.listTags(n.namespace).map((t) => ({ name: t.name }));
    return {
      ...namespaceView(n),
      ...(assoc.length ? { resource_type_associations: assoc.map(associationView) } : {}),
      ...(props.length ? { properties: Object.fromEntries(props.map((p) => [prefix + p.name, propertyDefinition(p)])) } : {}),
      ...(objects.length ? { objects } : {}),
      ...(tags.length ? { tags } : {}),
    };
  }

  /** Creates a namespace with the associations, properties, objects and tags in the body, all or nothing. */
  create(ctx: AuthContext, raw: unknown): Record<string, unknown> {
    this.enforce('add_metadef_namespace', ctx);
    const b = checkBody<NamespaceBody>(MetadefNamespaceBody, raw, READ_ONLY_ATTRS);
    const t = now();
    const row: NamespaceRow = {
      namespace: b.namespace,
      display_name: b.display_name ?? null,
      description: b.description ?? null,
      visibility: b.visibility ?? 'private',
      protected: b.protected ?? false,
      owner: b.owner ?? ctx.projectId ?? null,
      created_at: t,
      updated_at: t,
    };
    this.repo.tx(() => {
      try {
        this.repo.insertNamespace(row);
      } catch (e) {
        if (isDuplicate(e)) throw new Conflict(`The metadata definition namespace=${b.namespace} already exists.`);
        throw e;
      }
      for (const a of b.resource_type_associations ?? []) this.insertAssociation(row.namespace, a, t);
      for (const [name, def] of Object.entries(b.properties ?? {})) {
        this.unique(
          () => this.repo.insertProperty({ namespace: row.namespace, name, definition: def, created_at: t, updated_at: t }),
          `A metadata definition property with name=${name} already exists in namespace=${row.namespace}.`,
        );
      }
      for (const o of b.objects ?? []) {
        const r = { namespace: row.namespace, name: o.name, description: o.description ?? null, created_at: t, updated_at: t };
        this.unique(
          () => this.repo.insertObject({ ...r, required: o.required ?? null, properties: o.properties ?? null }),
          `A metadata definition object with name=${o.name} already exists in namespace=${row.namespace}.`,
        );
      }
      for (const g of b.tags ?? []) {
        this.unique(
          () => this.repo.insertTag({ namespace: row.namespace, name: g.name, created_at: t, updated_at: t }),
          `A metadata tag with name=${g.name} already exists in namespace=${row.namespace}. (Please note that metadata tag names are case insensitive).`,
        );
      }
    });
    // Glance answers with what was asked for, not re-read: the children as sent, in its models' attributes.
    const pick = <T extends object>(o: T, keys: (keyof T)[]) =>
      Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
    return {
      ...namespaceView(row),
      ...(b.resource_type_associations && {
        resource_type_associations: b.resource_type_associations.map((a) => pick(a, ['name', 'prefix', 'properties_target'])),
      }),
      ...(b.properties && { properties: b.properties }),
      ...(b.objects && { objects: b.objects.map((o) => pick(o, ['name', 'description', 'required', 'properties'])) }),
      ...(b.tags && { tags: b.tags.map((g) => ({ name: g.name })) }),
    };
  }

  /** Replaces the namespace's attributes (Glance's PUT: what is left out returns to its default). */
  update(ctx: AuthContext, name: string, raw: unknown): Record<string, unknown> {
    const n = this.forWrite(ctx, name, 'modify_metadef_namespace');
    const b = checkBody<NamespaceBody>(MetadefNamespaceBody, raw, READ_ONLY_ATTRS);
    const row: NamespaceRow = {
      ...n,
      namespace: b.namespace,
      display_name: b.display_name ?? null,
      description: b.description ?? null,
      visibility: b.visibility ?? 'private',
      protected: b.protected ?? false,
      owner: b.owner ?? ctx.projectId ?? null,
      updated_at: now(),
    };
    this.unique(
      () => this.repo.updateNamespace(n.namespace, row),
      `The metadata definition namespace=${b.namespace} already exists.`,
    );
    return namespaceView(row);
  }

  delete(ctx: AuthContext, name: string): void {
    const n = this.forWrite(
      ctx,
      name,
      'delete_metadef_namespace',
      `Metadata definition namespace ${name} is protected and cannot be deleted.`,
    );
    this.repo.deleteNamespace(n.namespace);
  }

  // Resource types and associations.

  resourceTypes(ctx: AuthContext) {
    this.enforce('list_metadef_resource_types', ctx);
    return { resource_types: this.repo.listResourceTypes().map(resourceTypeView) };
  }

  associations(ctx: AuthContext, name: string) {
    this.enforce('get_metadef_resource_type', ctx);
    const n = this.namespace(ctx, name);
    return { resource_type_associations: this.repo.listAssociations(n.namespace).map(associationView) };
  }

  associate(ctx: AuthContext, name: string, raw: unknown) {
    const n = this.forWrite(ctx, name, 'add_metadef_resource_type_association');
    const b = checkBody<AssociationBody>(MetadefAssociationBody, raw, READ_ONLY_ATTRS);
    return associationView(this.repo.tx(() => this.insertAssociation(n.namespace, b, now())));
  }

  dissociate(ctx: AuthContext, name: string, resourceType: string): void {
    const n = this.forWrite(ctx, name, 'remove_metadef_resource_type_association');
    if (!this.repo.getAssociation(n.namespace, resourceType)) {
      throw new NotFound(
        `The metadata definition resource-type association of resource-type=${resourceType} to namespace=${name}, was not found.`,
      );
    }
    if (n.protected) {
      throw new Forbidden(`Metadata definition resource-type-association ${resourceType} is protected and cannot be deleted.`);
    }
    this.repo.deleteAssociation(n.namespace, resourceType);
  }

  /** Inside a transaction: a resource type not known yet is created, as Glance's db layer does. */
  private insertAssociation(namespace: string, a: AssociationBody, t: string): AssociationRow {
    this.repo.ensureResourceType(a.name, t);
    const row = {
      namespace,
      name: a.name,
      prefix: a.prefix ?? null,
      properties_target: a.properties_target ?? null,
      created_at: t,
      updated_at: t,
    };
    this.unique(
      () => this.repo.insertAssociation(row),
      `The metadata definition resource-type association of resource-type=${a.name} to namespace=${namespace} already exists.`,
    );
    return row;
  }

  /** Runs a write, turning a unique-key failure into Glance's 409. */
  unique<T>(fn: () => T, message: string): T {
    try {
      return fn();
    } catch (e) {
      if (isDuplicate(e)) throw new Conflict(message);
      throw e;
    }
  }
}
