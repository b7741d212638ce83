import type { Db } from '../db/open.js';

/** A metadata definitions namespace row (Glance's metadef_namespaces). */
export interface NamespaceRow {
  namespace: string;
  display_name: string | null;
  description: string | null;
  visibility: 'public' | 'private';
  protected: boolean;
  owner: string | null;
  created_at: string;
  updated_at: string;
}
export interface ResourceTypeRow {
  name: string;
  protected: boolean;
  created_at: string;
  updated_at: string;
}
export interface AssociationRow {
  namespace: string;
  name: string;
  prefix: string | null;
  properties_target: string | null;
  created_at: string;
  updated_at: string;
}
export interface ObjectRow {
  namespace: string;
  name: string;
  description: string | null;
  required: string[] | null;
  properties: Record<string, Record<string, unknown>> | null;
  created_at: string;
  updated_at: string;
}
export interface PropertyRow {
  namespace: string;
  name: string;
  definition: Record<string, unknown>;
  created_at: string;
  updated_at: string;
}
export interface TagRow {
  namespace: string;
  name: string;
  created_at: string;
  updated_at: string;
}

/** Which namespaces a list returns: a project sees public ones and its own; null sees all (admin). */
export interface NamespaceFilter {
  viewer: string | null;
  visibility?: 'public' | 'private';
  resourceTypes?: string[];
  sortKey: 'created_at' | 'updated_at' | 'namespace';
  sortDir: 'asc' | 'desc';
  limit: number;
  /** The namespace after which to start (its sort key and name). */
  after?: NamespaceRow;
}

type RawType = Omit<ResourceTypeRow, 'protected'> & { protected: number };
type RawNs = Omit<NamespaceRow, 'protected'> & { protected: number };
const ns = (r: RawNs): NamespaceRow => ({ ...r, protected: r.protected === 1 });
type RawObj = Omit<ObjectRow, 'required' | 'properties'> & { required: string | null; properties: string | null };
const obj = (r: RawObj): ObjectRow => ({
  ...r,
  required: r.required === null ? null : (JSON.parse(r.required) as string[]),
  properties: r.properties === null ? null : (JSON.parse(r.properties) as ObjectRow['properties']),
});
type RawProp = Omit<PropertyRow, 'definition'> & { definition: string };
const prop = (r: RawProp): PropertyRow => ({ ...r, definition: JSON.parse(r.definition) as Record<string, unknown> });
const json = (v: unknown) => (v === null || v === undefined ? null : JSON.stringify(v));

/** SQL only (house style 3.1): the metadata definitions catalog. Children cascade with their namespace. */
export class MetadefRepo {
  constructor(private readonly db: Db) {}

  /** Runs fn in one transaction (a namespace created with its children is all or nothing). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  getNamespace(name: string): NamespaceRow | null {
    const r = this.db.prepare('SELECT * FROM metadef_namespaces WHERE namespace = ?').get(name) as RawNs | undefined;
    return r ? ns(r) : null;
  }

  listNamespaces(f: NamespaceFilter): NamespaceRow[] {
    const where: string[] = [];
    const args: unknown[] = [];
    if (f.viewer !== null) {
      where.push("(visibility = 'public' OR owner = ?)");
      args.push(f.viewer);
    }
    if (f.visibility) {
      where.push('visibility = ?');
      args.push(f.visibility);
    }
    if (f.resourceTypes?.length) {
      where.push(
        `namespace IN (SELECT namespace FROM metadef_namespace_resource_types WHERE resource_type IN (${f.resourceTypes.map(() => '?').join(',')}))`,
      );
      args.push(...f.resourceTypes);
    }
    const key = f.sortKey;
    const cmp = f.sortDir === 'asc' ? '>' : '<';
    if (f.after) {
      where.push(`(${key} ${cmp} ? OR (${key} = ? AND namespace ${cmp} ?))`);
      args.push(f.after[key], f.after[key], f.after.namespace);
    }
    const sql =
      `SELECT * FROM metadef_namespaces ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ` +
      `ORDER BY ${key} ${f.sortDir}, namespace ${f.sortDir} LIMIT ?`;
    return (this.db.prepare(sql).all(...args, f.limit) as RawNs[]).map(ns);
  }

  insertNamespace(r: NamespaceRow): void {
    this.db
      .prepare(
        `INSERT INTO metadef_namespaces (namespace, display_name, description, visibility, protected, owner, created_at, updated_at)
         VALUES (@namespace, @display_name, @description, @visibility, @protected, @owner, @created_at, @updated_at)`,
      )
      .run({ ...r, protected: r.protected ? 1 : 0 });
  }

  /** Replaces a namespace's attributes; a new name carries its children along (ON UPDATE CASCADE). */
  updateNamespace(old: string, r: NamespaceRow): void {
    this.db
      .prepare(
        `UPDATE metadef_namespaces SET namespace = @namespace, display_name = @display_name, description = @description,
           visibility = @visibility, protected = @protected, owner = @owner, updated_at = @updated_at WHERE namespace = @old`,
      )
      .run({ ...r, protected: r.protected ? 1 : 0, old });
  }

  deleteNamespace(name: string): void {
    this.db.prepare('DELETE FROM metadef_namespaces WHERE namespace = ?').run(name);
  }

  // Resource types and their associations with namespaces.

  listResourceTypes(): ResourceTypeRow[] {
    const rows = this.db.prepare('SELECT * FROM metadef_resource_types ORDER BY rowid').all() as RawType[];
    return rows.map((r) => ({ ...r, protected: r.protected === 1 }));
  }

  /** Creates the resource type unless it exists. */
  ensureResourceType(name: string, now: string): void {
    this.db
      .prepare('INSERT OR IGNORE INTO metadef_resource_types (name, protected, created_at, updated_at) VALUES (?, 0, ?, ?)')
      .run(name, now, now);
  }

  listAssociations(namespace: string): AssociationRow[] {
    return this.db
      .prepare(
        `SELECT namespace, resource_type AS name, prefix, properties_target, created_at, updated_at
         FROM metadef_namespace_resource_types WHERE namespace = ? ORDER BY rowid`,
      )
      .all(namespace) as AssociationRow[];
  }

  getAssociation(namespace: string, name: string): AssociationRow | null {
    return (this.listAssociations(namespace).find((a) => a.name === name) ?? null) as AssociationRow | null;
  }

  insertAssociation(a: AssociationRow): void {
    this.db
      .prepare(
        `INSERT INTO metadef_namespace_resource_types (namespace, resource_type, prefix, properties_target, created_at, updated_at)
         VALUES (@namespace, @name, @prefix, @properties_target, @created_at, @updated_at)`,
      )
      .run(a);
  }

  deleteAssociation(namespace: string, name: string): void {
    this.db
      .prepare('DELETE FROM metadef_namespace_resource_types WHERE namespace = ? AND resource_type = ?')
      .run(namespace, name);
  }

  // Objects.

  listObjects(namespace: string): ObjectRow[] {
    return (this.db.prepare('SELECT * FROM metadef_objects WHERE namespace = ? ORDER BY rowid').all(namespace) as RawObj[]).map(
      obj,
    );
  }

  getObject(namespace: string, name: string): ObjectRow | null {
    const r = this.db.prepare('SELECT * FROM metadef_objects WHERE namespace = ? AND name = ?').get(namespace, name) as
      | RawObj
      | undefined;
    return r ? obj(r) : null;
  }

  insertObject(o: ObjectRow): void {
    this.db
      .prepare(
        `INSERT INTO metadef_objects (namespace, name, description, required, properties, created_at, updated_at)
         VALUES (@namespace, @name, @description, @required, @properties, @created_at, @updated_at)`,
      )
      .run({ ...o, required: json(o.required), properties: json(o.properties) });
  }

  updateObject(old: string, o: ObjectRow): void {
    this.db
      .prepare(
        `UPDATE metadef_objects SET name = @name, description = @description, required = @required, properties = @properties,
           updated_at = @updated_at WHERE namespace = @namespace AND name = @old`,
      )
      .run({ ...o, required: json(o.required), properties: json(o.properties), old });
  }

  deleteObject(namespace: string, name: string): void {
    this.db.prepare('DELETE FROM metadef_objects WHERE namespace = ? AND name = ?').run(namespace, name);
  }

  deleteObjects(namespace: string): void {
    this.db.prepare('DELETE FROM metadef_objects WHERE namespace = ?').run(namespace);
  }

  // Properties.

  listProperties(namespace: string): PropertyRow[] {
    return (
      this.db.prepare('SELECT * FROM metadef_properties WHERE namespace = ? ORDER BY rowid').all(namespace) as RawProp[]
    ).map(prop);
  }

  getProperty(namespace: string, name: string): PropertyRow | null {
    const r = this.db.prepare('SELECT * FROM metadef_properties WHERE namespace = ? AND name = ?').get(namespace, name) as
      | RawProp
      | undefined;
    return r ? prop(r) : null;
  }

  insertProperty(p: PropertyRow): void {
    this.db
      .prepare(
        `INSERT INTO metadef_properties (namespace, name, definition, created_at, updated_at)
         VALUES (@namespace, @name, @definition, @created_at, @updated_at)`,
      )
      .run({ ...p, definition: JSON.stringify(p.definition) });
  }

  updateProperty(old: string, p: PropertyRow): void {
    this.db
      .prepare(
        `UPDATE metadef_properties SET name = @name, definition = @definition, updated_at = @updated_at
         WHERE namespace = @namespace AND name = @old`,
      )
      .run({ ...p, definition: JSON.stringify(p.definition), old });
  }

  deleteProperty(namespace: string, name: string): void {
    this.db.prepare('DELETE FROM metadef_properties WHERE namespace = ? AND name = ?').run(namespace, name);
  }

  deleteProperties(namespace: string): void {
    this.db.prepare('DELETE FROM metadef_properties WHERE namespace = ?').run(namespace);
  }

  // Tags.

  listTags(namespace: string): TagRow[] {
    return this.db.prepare('SELECT * FROM metadef_tags WHERE namespace = ? ORDER BY rowid').all(namespace) as TagRow[];
  }

  getTag(namespace: string, name: string): TagRow | null {
    return (
      (this.db.prepare('SELECT * FROM metadef_tags WHERE namespace = ? AND name = ?').get(namespace, name) as TagRow) ?? null
    );
  }

  insertTag(t: TagRow): void {
    this.db
      .prepare(
        'INSERT INTO metadef_tags (namespace, name, created_at, updated_at) VALUES (@namespace, @name, @created_at, @updated_at)',
      )
      .run(t);
  }

  renameTag(namespace: string, old: string, name: string, now: string): void {
    this.db
      .prepare('UPDATE metadef_tags SET name = ?, updated_at = ? WHERE namespace = ? AND name = ?')
      .run(name, now, namespace, old);
  }

  deleteTag(namespace: string, name: string): void {
    this.db.prepare('DELETE FROM metadef_tags WHERE namespace = ? AND name = ?').run(namespace, name);
  }

  deleteTags(namespace: string): void {
    this.db.prepare('DELETE FROM metadef_tags WHERE namespace = ?').run(namespace);
  }
}
