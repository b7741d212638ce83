import {
  MetadefObjectBody,
  MetadefPropertyBody,
  MetadefTagBody,
  MetadefTagsBody,
  type MetadefObjectBody as ObjectBody,
  type MetadefPropertyBody as PropertyBody,
  type MetadefTagsBody as TagsBody,
} from '../../shared/api/image.js';
import { Forbidden, NotFound } from '../../shared/errors/index.js';
import type { AuthContext } from '../http/auth.js';
import type { NamespaceRow, ObjectRow, PropertyRow } from './metadefs.repo.js';
import { now, type MetadefService } from './metadefs.service.js';
import { checkBody, objectView, propertyDefinition, propertyView, READ_ONLY_ATTRS, tagView } from './metadefs.views.js';

const objectDup = (name: string, ns: string) =>
  `A metadata definition object with name=${name} already exists in namespace=${ns}.`;
const propertyDup = (name: string, ns: string) =>
  `A metadata definition property with name=${name} already exists in namespace=${ns}.`;
const tagDup = (name: string, ns: string) =>
  `A metadata tag with name=${name} already exists in namespace=${ns}. (Please note that metadata tag names are case insensitive).`;

/**
 * What a metadefs namespace holds: objects, properties and tags (glance/api/v2/
 * metadef_objects.py, metadef_properties.py, metadef_tags.py). Every call goes through
 * the namespace's visibility and policy gate of MetadefService first.
 */
export class MetadefContents {
  constructor(private readonly ns: MetadefService) {}

  private get repo() {
    return this.ns.repo;
  }

  // Objects.

  listObjects(ctx: AuthContext, name: string) {
    this.ns.enforce('get_metadef_objects', ctx);
    const n = this.ns.namespace(ctx, name);
    return { objects: this.repo.listObjects(n.namespace).map((o) => objectView(o)), schema: 'v2/schemas/metadefs/objects' };
  }

  showObject(ctx: AuthContext, name: string, object: string) {
    this.ns.enforce('get_metadef_object', ctx);
    return objectView(this.object(this.ns.namespace(ctx, name), object));
  }

  createObject(ctx: AuthContext, name: string, raw: unknown) {
    const n = this.ns.forWrite(ctx, name, 'add_metadef_object');
    const b = checkBody<ObjectBody>(MetadefObjectBody, raw, READ_ONLY_ATTRS);
    const t = now();
    const row: ObjectRow = { namespace: n.namespace, ...this.objectFields(b), created_at: t, updated_at: t };
    this.ns.unique(() => this.repo.insertObject(row), objectDup(b.name, n.namespace));
    return objectView(row);
  }

  /** Replaces the object (PUT): what is left out is cleared. */
  updateObject(ctx: AuthContext, name: string, object: string, raw: unknown) {
    const n = this.ns.forWrite(ctx, name, 'modify_metadef_object');
    const old = this.object(n, object);
    const b = checkBody<ObjectBody>(MetadefObjectBody, raw, READ_ONLY_ATTRS);
    const row: ObjectRow = { ...old, ...this.objectFields(b), updated_at: now() };
    this.ns.unique(() => this.repo.updateObject(old.name, row), objectDup(b.name, n.namespace));
    return objectView(row);
  }

  deleteObject(ctx: AuthContext, name: string, object: string): void {
    const n = this.ns.forWrite(ctx, name, 'delete_metadef_object');
    this.object(n, object);
    if (n.protected) throw new Forbidden(`Metadata definition object ${object} is protected and cannot be deleted.`);
    this.repo.deleteObject(n.namespace, object);
  }

  deleteObjects(ctx: AuthContext, name: string): void {
    const n = this.ns.forWrite(
      ctx,
      name,
      'delete_metadef_namespace',
      `Metadata definition namespace ${name} is protected and cannot be deleted.`,
    );
    this.repo.deleteObjects(n.namespace);
  }

  private objectFields(b: ObjectBody) {
    return { name: b.name, description: b.description ?? null, required: b.required ?? null, properties: b.properties ?? null };
  }

  private object(n: NamespaceRow, object: string): ObjectRow {
    const o = this.repo.getObject(n.namespace, object);
    if (!o) throw new NotFound(`The metadata definition object with name=${object} was not found in namespace=${n.namespace}.`);
    return o;
  }

  // Properties.

  listProperties(ctx: AuthContext, name: string) {
    this.ns.enforce('get_metadef_properties', ctx);
    const n = this.ns.namespace(ctx, name);
    return { properties: Object.fromEntries(this.repo.listProperties(n.namespace).map((p) => [p.name, propertyDefinition(p)])) };
  }

  /** One property; with `resourceType`, a name carrying that association's prefix is found without it (Glance). */
  showProperty(ctx: AuthContext, name: string, property: string, resourceType?: string) {
    this.ns.enforce('get_metadef_property', ctx);
    const n = this.ns.namespace(ctx, name);
    let key = property;
    if (resourceType) {
      const prefix = this.repo.getAssociation(n.namespace, resourceType)?.prefix;
      if (prefix && property.startsWith(prefix)) key = property.slice(prefix.length);
    }
    return propertyView(this.property(n, key));
  }

  createProperty(ctx: AuthContext, name: string, raw: unknown) {
    const n = this.ns.forWrite(ctx, name, 'add_metadef_property');
    const b = checkBody<PropertyBody>(MetadefPropertyBody, raw);
    const t = now();
    const row: PropertyRow = { namespace: n.namespace, ...this.propertyFields(b), created_at: t, updated_at: t };
    this.ns.unique(() => this.repo.insertProperty(row), propertyDup(b.name, n.namespace));
    return propertyView(row);
  }

  updateProperty(ctx: AuthContext, name: string, property: string, raw: unknown) {
    const n = this.ns.forWrite(ctx, name, 'modify_metadef_property');
    const old = this.property(n, property);
    const b = checkBody<PropertyBody>(MetadefPropertyBody, raw);
    const row: PropertyRow = { ...old, ...this.propertyFields(b), updated_at: now() };
    this.ns.unique(() => this.repo.updateProperty(old.name, row), propertyDup(b.name, n.namespace));
    return propertyView(row);
  }

  deleteProperty(ctx: AuthContext, name: string, property: string): void {
    const n = this.ns.forWrite(ctx, name, 'remove_metadef_property');
    this.property(n, property);
    if (n.protected) throw new Forbidden(`Metadata definition property ${property} is protected and cannot be deleted.`);
    this.repo.deleteProperty(n.namespace, property);
  }

  deleteProperties(ctx: AuthContext, name: string): void {
    const n = this.ns.forWrite(
      ctx,
      name,
      'delete_metadef_namespace',
      `Metadata definition namespace ${name} is protected and cannot be deleted.`,
    );
    this.repo.deleteProperties(n.namespace);
  }

  private propertyFields(b: PropertyBody) {
    const { name, ...definition } = b;
    return { name, definition };
  }

  private property(n: NamespaceRow, property: string): PropertyRow {
    const p = this.repo.getProperty(n.namespace, property);
    if (!p)
      throw new NotFound(`The metadata definition property with name=${property} was not found in namespace=${n.namespace}.`);
    return p;
  }

  // Tags.

  listTags(ctx: AuthContext, name: string) {
    this.ns.enforce('get_metadef_tags', ctx);
    const n = this.ns.namespace(ctx, name);
    return { tags: this.repo.listTags(n.namespace).map(tagView) };
  }

  showTag(ctx: AuthContext, name: string, tag: string) {
    this.ns.enforce('get_metadef_tag', ctx);
    return tagView(this.tag(this.ns.namespace(ctx, name), tag));
  }

  createTag(ctx: AuthContext, name: string, tag: string) {
    const n = this.ns.forWrite(ctx, name, 'add_metadef_tag');
    const t = now();
    const row = { namespace: n.namespace, name: tag, created_at: t, updated_at: t };
    this.ns.unique(() => this.repo.insertTag(row), tagDup(tag, n.namespace));
    return tagView(row);
  }

  /**
   * POST …/tags: the namespace's tags become the given ones, or are added to with
   * `X-Openstack-Append: true` (Glance 2.10+); a name given twice, or one that exists
   * when appending, is a 409 and changes nothing; an empty list changes nothing.
   */
  createTags(ctx: AuthContext, name: string, raw: unknown, append: boolean) {
    const n = this.ns.forWrite(ctx, name, 'add_metadef_tags');
    const b = checkBody<TagsBody>(MetadefTagsBody, raw);
    const t = now();
    this.repo.tx(() => {
      // Glance's db layer (metadef_api/tag.py create_tags) replaces only with a non-empty list.
      if (!append && b.tags.length > 0) this.repo.deleteTags(n.namespace);
      for (const g of b.tags) {
        this.ns.unique(
          () => this.repo.insertTag({ namespace: n.namespace, name: g.name, created_at: t, updated_at: t }),
          tagDup(g.name, n.namespace),
        );
      }
    });
    return { tags: b.tags.map((g) => ({ name: g.name })) };
  }

  updateTag(ctx: AuthContext, name: string, tag: string, raw: unknown) {
    const n = this.ns.forWrite(ctx, name, 'modify_metadef_tag');
    const old = this.tag(n, tag);
    const b = checkBody<{ name: string }>(MetadefTagBody, raw, READ_ONLY_ATTRS);
    const t = now();
    this.ns.unique(() => this.repo.renameTag(n.namespace, old.name, b.name, t), tagDup(b.name, n.namespace));
    return tagView({ ...old, name: b.name, updated_at: t });
  }

  deleteTag(ctx: AuthContext, name: string, tag: string): void {
    const n = this.ns.forWrite(ctx, name, 'delete_metadef_tag');
    const old = this.tag(n, tag);
    if (n.protected) throw new Forbidden(`Metadata definition tag ${tag} is protected and cannot be deleted.`);
    this.repo.deleteTag(n.namespace, old.name);
  }

  deleteTags(ctx: AuthContext, name: string): void {
    const n = this.ns.forWrite(
      ctx,
      name,
      'delete_metadef_tags',
      `Metadata definition namespace ${name} is protected and cannot be deleted.`,
    );
    this.repo.deleteTags(n.namespace);
  }

  private tag(n: NamespaceRow, tag: string) {
    const g = this.repo.getTag(n.namespace, tag);
    if (!g) throw new NotFound(`The metadata definition tag with name=${tag} was not found in namespace=${n.namespace}.`);
    return g;
  }
}
