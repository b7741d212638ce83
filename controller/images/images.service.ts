import { BadRequest, CloudError, Conflict, Forbidden, NotFound, OverLimit } from '../../shared/errors/index.js';
import { isUuid, newUuid } from '../../shared/util/ids.js';
import { isoSeconds } from '../../shared/util/time.js';
import type { AuthContext, Policy, PolicyTarget } from '../http/auth.js';
import { type ListQuery, listLink, page, planList } from './listing.js';
import { applyPatch, checkCoreValue, checkProperty, refuseProtected, type ImageChanges } from './patch.js';
import type { ImageRepo, ImageRow, MemberRow, MemberStatus } from './images.repo.js';
import { Value } from 'typebox/value';
import { ImageMemberCreate, ImageMemberUpdate } from '../../shared/api/image.js';
import { CORE, MEMBER_STATUSES } from './schemas.js';

/** Tags, custom properties and members an image may have (Glance's image_*_quota defaults). */
export const MAX_TAGS = 128;
export const MAX_PROPERTIES = 128;
export const MAX_MEMBERS = 128;

function checkPropertyCount(props: Record<string, string>): void {
  const n = Object.keys(props).length;
  if (n > MAX_PROPERTIES) throw new OverLimit(`Attempted to add more image properties than allowed: ${n} of ${MAX_PROPERTIES}.`);
}

const now = () => isoSeconds(new Date());

/** Glance's image document: core attributes plus custom properties at top level. */
export function imageView(i: ImageRow): Record<string, unknown> {
  return {
    ...i.properties,
    id: i.id,
    name: i.name,
    status: i.status,
    visibility: i.visibility,
    protected: i.protected,
    os_hidden: i.os_hidden,
    checksum: i.checksum,
    os_hash_algo: i.os_hash_algo,
    os_hash_value: i.os_hash_value,
    owner: i.owner,
    size: i.size,
    virtual_size: i.virtual_size,
    min_ram: i.min_ram,
    min_disk: i.min_disk,
    disk_format: i.disk_format,
    container_format: i.container_format,
    tags: i.tags,
    created_at: i.created_at,
    updated_at: i.updated_at,
    ...(i.stores.length ? { stores: i.stores.join(',') } : {}),
    ...(i.import_task ? { os_glance_import_task: i.import_task } : {}),
    ...(i.importing_stores !== null ? { os_glance_importing_to_stores: i.importing_stores } : {}),
    ...(i.failed_stores !== null ? { os_glance_failed_import: i.failed_stores } : {}),
    self: `/v2/images/${i.id}`,
    file: `/v2/images/${i.id}/file`,
    schema: '/v2/schemas/image',
  };
}

export function memberView(m: MemberRow): Record<string, unknown> {
  return { ...m, schema: '/v2/schemas/member' };
}

const target = (i: ImageRow): PolicyTarget => ({
  project_id: i.owner,
  owner: i.owner,
  visibility: i.visibility,
  protected: i.protected,
  id: i.id,
});

/**
 * Image records: who may see and change what (owner, visibility, members; admin sees
 * all), Glance's validation and error texts. The data path lives in data.ts.
 */
export class ImageService {
  constructor(
    readonly repo: ImageRepo,
    private readonly policy: Policy,
  ) {}

  isOwner(ctx: AuthContext, i: ImageRow): boolean {
    return ctx.isAdmin || (i.owner !== null && i.owner === ctx.projectId);
  }

  canSee(ctx: AuthContext | null, i: ImageRow): boolean {
    if (!ctx || this.isOwner(ctx, i)) return true;
    if (i.visibility === 'public' || i.visibility === 'community') return true;
    return i.visibility === 'shared' && !!ctx.projectId && this.repo.member(i.id, ctx.projectId) !== null;
  }

  /** The image if `ctx` may see it; 404 otherwise (including ids that are not UUIDs). */
  find(ctx: AuthContext | null, id: string): ImageRow {
    const i = isUuid(id) ? this.repo.get(id.toLowerCase()) : null;
    if (!i || !this.canSee(ctx, i)) throw new NotFound(`No image found with ID ${id}`);
    return i;
  }

  enforce(action: string, ctx: AuthContext | null, i?: ImageRow): void {
    if (ctx) this.policy.enforce(`image:${action}`, ctx, i ? target(i) : { project_id: ctx.projectId ?? null });
  }

  private mustOwn(ctx: AuthContext | null, i: ImageRow, what: string): void {
    if (ctx && !this.isOwner(ctx, i)) throw new Forbidden(what);
  }

  get(ctx: AuthContext, id: string): ImageRow {
    const i = this.find(ctx, id);
    this.enforce('get_image', ctx, i);
    return i;
  }

  private checkVisibilityChange(ctx: AuthContext | null, v: string, i?: ImageRow): void {
    if (!ctx) return;
    if (v === 'public') this.policy.enforce('image:publicize_image', ctx, i ? target(i) : {});
    if (v === 'community') this.policy.enforce('image:communitize_image', ctx, i ? target(i) : {});
  }

  /** POST /v2/images: a queued record. */
  create(ctx: AuthContext | null, body: unknown, owner?: string): ImageRow {
    if (!body || typeof body !== 'object' || Array.isArray(body))
      throw new BadRequest('Request body must be a JSON object describing the image.');
    if (ctx) this.enforce('add_image', ctx);
    const b = body as Record<string, unknown>;
    const core: Record<string, unknown> = {};
    const properties: Record<string, string> = {};
    for (const [k, v] of Object.entries(b)) {
      if (k === 'id') continue;
      refuseProtected(k);
      if (CORE.has(k)) core[k] = checkCoreValue(k, v);
      else properties[k] = checkProperty(k, v);
    }
    let id = newUuid();
    if (b.id !== undefined && b.id !== null) {
      if (typeof b.id !== 'string' || !isUuid(b.id))
        throw new BadRequest(
          `Provided object does not match schema 'image': ${JSON.stringify(b.id)} is not a valid UUID (attribute 'id')`,
        );
      id = b.id.toLowerCase();
      if (this.repo.get(id)) throw new Conflict(`An image with identifier ${id} already exists`);
    }
    const projectOwner = owner ?? ctx?.projectId ?? null;
    const wantOwner = (core.owner as string | null | undefined) ?? projectOwner;
    if (ctx && !ctx.isAdmin && wantOwner !== projectOwner) {
      throw new Forbidden(`You are not permitted to create images owned by '${String(wantOwner)}'.`);
    }
    const visibility = (core.visibility as ImageRow['visibility'] | undefined) ?? 'shared';
    this.checkVisibilityChange(ctx, visibility);
    checkPropertyCount(properties);
    const tags = (core.tags as string[] | undefined) ?? [];
    if (tags.length > MAX_TAGS) throw new OverLimit(`Maximum tag count exceeded, ${tags.length} of ${MAX_TAGS}`);
    const t = now();
    const row: ImageRow = {
      id,
      name: (core.name as string | null | undefined) ?? null,
      status: 'queued',
      visibility,
      protected: (core.protected as boolean | undefined) ?? false,
      os_hidden: (core.os_hidden as boolean | undefined) ?? false,
      disk_format: (core.disk_format as string | null | undefined) ?? null,
      container_format: (core.container_format as string | null | undefined) ?? null,
      size: null,
      virtual_size: null,
      checksum: null,
      os_hash_algo: null,
      os_hash_value: null,
      min_disk: (core.min_disk as number | undefined) ?? 0,
      min_ram: (core.min_ram as number | undefined) ?? 0,
      owner: wantOwner,
      properties,
      tags,
      store_key: null,
      stores: [],
      import_task: null,
      importing_stores: null,
      failed_stores: null,
      created_at: t,
      updated_at: t,
    };
    this.repo.insert(row);
    return row;
  }

  /** GET /v2/images: visible images, filtered, sorted and paged. */
  list(ctx: AuthContext, q: ListQuery): { images: ImageRow[]; next: string | null; first: string } {
    this.enforce('get_images', ctx);
    const plan = planList(ctx, q);
    const visible = this.repo.listVisibleTo(ctx.projectId ?? null, ctx.isAdmin);
    const { items, more } = page(visible.filter(plan.keep), visible, plan);
    const last = items[items.length - 1];
    return { images: items, next: more && last ? listLink(q, last.id) : null, first: listLink(q, null) };
  }

  /** PATCH /v2/images/{id}. */
  update(ctx: AuthContext, id: string, body: unknown): ImageRow {
    const i = this.find(ctx, id);
    this.enforce('modify_image', ctx, i);
    this.mustOwn(ctx, i, 'You are not permitted to modify this image.');
    const changes: ImageChanges = applyPatch(i, body);
    if (changes.visibility !== undefined && changes.visibility !== i.visibility)
      this.checkVisibilityChange(ctx, changes.visibility, i);
    if (changes.owner !== undefined && changes.owner !== i.owner && !ctx.isAdmin) {
      throw new Forbidden("You are not permitted to modify 'owner' on this image.");
    }
    if (changes.properties && Object.keys(changes.properties).length > Object.keys(i.properties).length)
      checkPropertyCount(changes.properties);
    if (changes.tags && changes.tags.length > MAX_TAGS)
      throw new OverLimit(`Maximum tag count exceeded, ${changes.tags.length} of ${MAX_TAGS}`);
    if (Object.keys(changes).length) this.repo.update(i.id, { ...changes, updated_at: now() });
    return this.repo.get(i.id) ?? i;
  }

  /**
   * DELETE /v2/images/{id}: removes the record; returns it, for the caller to delete its
   * bytes (store_key in each of its stores) and stop its import.
   */
  delete(ctx: AuthContext | null, id: string): ImageRow {
    const i = this.find(ctx, id);
    this.enforce('delete_image', ctx, i);
    this.mustOwn(ctx, i, 'You are not permitted to delete this image.');
    if (i.protected) throw new Forbidden(`Image ${i.id} is protected and cannot be deleted.`);
    this.repo.delete(i.id);
    return i;
  }

  deactivate(ctx: AuthContext, id: string): void {
    const i = this.find(ctx, id);
    this.enforce('deactivate', ctx, i);
    this.mustOwn(ctx, i, 'You are not permitted to deactivate this image.');
    if (i.status === 'deactivated') return;
    if (i.status !== 'active') throw new BadRequest(`Not allowed to deactivate image in status '${i.status}'`);
    this.repo.update(i.id, { status: 'deactivated', updated_at: now() }, ['active']);
  }

  reactivate(ctx: AuthContext, id: string): void {
    const i = this.find(ctx, id);
    this.enforce('reactivate', ctx, i);
    this.mustOwn(ctx, i, 'You are not permitted to reactivate this image.');
    if (i.status === 'active') return;
    if (i.status !== 'deactivated') throw new BadRequest(`Not allowed to reactivate image in status '${i.status}'`);
    this.repo.update(i.id, { status: 'active', updated_at: now() }, ['deactivated']);
  }

  addTag(ctx: AuthContext, id: string, tag: string): void {
    const i = this.find(ctx, id);
    this.enforce('modify_image', ctx, i);
    this.mustOwn(ctx, i, 'You are not permitted to modify tags on this image.');
    if (!tag || tag.length > 255) throw new BadRequest('Tags must be 1 to 255 characters long.');
    if (i.tags.includes(tag)) return;
    if (i.tags.length >= MAX_TAGS) throw new OverLimit(`Maximum tag count exceeded, ${i.tags.length + 1} of ${MAX_TAGS}`);
    this.repo.update(i.id, { tags: [...i.tags, tag], updated_at: now() });
  }

  deleteTag(ctx: AuthContext, id: string, tag: string): void {
    const i = this.find(ctx, id);
    this.enforce('modify_image', ctx, i);
    this.mustOwn(ctx, i, 'You are not permitted to modify tags on this image.');
    if (!i.tags.includes(tag)) throw new NotFound(`Tag ${tag} not found`);
    this.repo.update(i.id, { tags: i.tags.filter((t) => t !== tag), updated_at: now() });
  }

  // Members: the owner shares a `shared` image with a project, which accepts it.

  addMember(ctx: AuthContext, id: string, body: unknown): MemberRow {
    const i = this.find(ctx, id);
    this.enforce('add_member', ctx, i);
    this.mustOwn(ctx, i, `You are not permitted to create image members for the image ${i.id}.`);
    if (i.visibility !== 'shared')
      throw new Forbidden(`Not allowed to create members for image ${i.id}: only shared images have members.`);
    if (!Value.Check(ImageMemberCreate, body)) throw new BadRequest('Member to be added not specified');
    const { member } = body;
    if (this.repo.member(i.id, member))
      throw new Conflict(`The target member ${member} is already associated with image ${i.id}.`);
    if (this.repo.members(i.id).length >= MAX_MEMBERS)
      throw new OverLimit(`Maximum number of image members exceeded: ${MAX_MEMBERS}.`);
    const t = now();
    const m: MemberRow = { image_id: i.id, member_id: member, status: 'pending', created_at: t, updated_at: t };
    this.repo.insertMember(m);
    return m;
  }

  /** The members `ctx` may see: all for the owner, its own entry for a member. */
  listMembers(ctx: AuthContext, id: string): MemberRow[] {
    const i = this.find(ctx, id);
    this.enforce('get_members', ctx, i);
    if (i.visibility !== 'shared') throw new Forbidden(`Only shared images have members.`);
    const all = this.repo.members(i.id);
    return this.isOwner(ctx, i) ? all : all.filter((m) => m.member_id === ctx.projectId);
  }

  getMember(ctx: AuthContext, id: string, memberId: string): MemberRow {
    const i = this.find(ctx, id);
    this.enforce('get_member', ctx, i);
    const m = this.repo.member(i.id, memberId);
    if (!m || (!this.isOwner(ctx, i) && memberId !== ctx.projectId))
      throw new NotFound(`Member ${memberId} not found for image ${i.id}`);
    return m;
  }

  /** Only the member project itself accepts or rejects (an admin may too). */
  updateMember(ctx: AuthContext, id: string, memberId: string, body: unknown): MemberRow {
    const i = this.find(ctx, id);
    this.enforce('modify_member', ctx, i);
    if (!Value.Check(ImageMemberUpdate, body)) {
      const status = (body as { status?: unknown } | undefined)?.status;
      throw new BadRequest(`Invalid status: ${JSON.stringify(status)} (expected one of ${MEMBER_STATUSES.join(', ')})`);
    }
    const { status } = body;
    const m = this.repo.member(i.id, memberId);
    if (!m) throw new NotFound(`Member ${memberId} not found for image ${i.id}`);
    if (!ctx.isAdmin && memberId !== ctx.projectId)
      throw new Forbidden("You are not permitted to modify 'status' on this image member.");
    this.repo.updateMember(i.id, memberId, status as MemberStatus, now());
    return this.repo.member(i.id, memberId)!;
  }

  deleteMember(ctx: AuthContext, id: string, memberId: string): void {
    const i = this.find(ctx, id);
    this.enforce('delete_member', ctx, i);
    if (!this.isOwner(ctx, i)) {
      if (this.repo.member(i.id, memberId) && memberId === ctx.projectId)
        throw new Forbidden('You are not permitted to delete this image member.');
      throw new NotFound(`Member ${memberId} not found for image ${i.id}`);
    }
    if (!this.repo.deleteMember(i.id, memberId)) throw new NotFound(`Member ${memberId} not found for image ${i.id}`);
  }
}

/** 410: the image was deleted while its data was uploading. */
export class ImageGone extends CloudError {
  constructor(id: string) {
    super(410, `Image ${id} could not be found after upload. The image may have been deleted during the upload.`);
  }
}
