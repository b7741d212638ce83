import type { AuthContext } from '../http/auth.js';
import { cinderTime } from '../../shared/util/time.js';
import type { VolumeCtx } from './context.js';
import { hostString, volumeHosts } from './hosts.service.js';
import type { AttachmentRow, SnapshotRow, TypeRow, VolumeRow } from './volumes.repo.js';

/** Cinder's timestamp: 2026-11-22T08:08:57.000000 */
export const ct = (iso: string | null | undefined): string | null => (iso ? cinderTime(new Date(iso)) : null);
const json = <T>(s: string | null, d: T): T => {
  try {
    return s ? (JSON.parse(s) as T) : d;
  } catch {
    return d;
  }
};

export function links(base: string, project: string, collection: string, id: string) {
  return [
    { rel: 'self', href: `${base}/v3/${project}/${collection}/${id}` },
    { rel: 'bookmark', href: `${base}/${project}/${collection}/${id}` },
  ];
}

/** A volume's attachments as the volume document shows them (Cinder: `id` is the volume id). */
export function attachmentsView(rows: AttachmentRow[]) {
  return rows
    .filter((a) => a.attach_status === 'attached')
    .map((a) => ({
      server_id: a.instance_uuid,
      attachment_id: a.id,
      attached_at: ct(a.attached_at),
      host_name: a.attached_host,
      volume_id: a.volume_id,
      device: a.mountpoint,
      id: a.volume_id,
    }));
}

/**
 * A volume document. `extended` (show and detail lists) adds what Cinder's controller
 * extensions add only on show/detail: os-vol-tenant-attr:tenant_id
 * (cinder/api/contrib/volume_tenant_attribute.py), volume_image_metadata
 * (volume_image_metadata.py), os-vol-host-attr:host (volume_host_attribute.py) and
 * os-vol-mig-status-attr:* (volume_mig_status_attribute.py, admin only). Create and update
 * answer the base view (cinder/api/v2/views/volumes.py ViewBuilder.detail), where
 * migration_status is there for admins only.
 */
export function volumeView(
  ctx: VolumeCtx,
  auth: AuthContext,
  v: VolumeRow,
  base: string,
  o: { extended: boolean } = { extended: true },
): Record<string, unknown> {
  const type = v.volume_type_id ? ctx.repo.getType(v.volume_type_id) : null;
  const doc: Record<string, unknown> = {
    id: v.id,
    name: v.name,
    description: v.description,
    size: v.size,
    status: v.status,
    availability_zone: v.availability_zone,
    bootable: v.bootable ? 'true' : 'false',
    encrypted: false,
    multiattach: v.multiattach === 1,
    volume_type: type?.name ?? null,
    snapshot_id: v.snapshot_id,
    source_volid: v.source_volid,
    metadata: json(v.metadata, {}),
    attachments: attachmentsView(ctx.repo.attachmentsOf(v.id)),
    created_at: ct(v.created_at),
    updated_at: ct(v.updated_at),
    user_id: v.user_id,
    links: links(base, v.project_id, 'volumes', v.id),
    replication_status: null,
    consistencygroup_id: null,
  };
  if (auth.isAdmin) doc.migration_status = null;
  if (!o.extended) return doc;
  doc['os-vol-tenant-attr:tenant_id'] = v.project_id;
  if (v.image_id) doc.volume_image_metadata = { image_id: v.image_id, ...(v.image_name ? { image_name: v.image_name } : {}) };
  if (auth.isAdmin) {
    const h = v.host_id ? volumeHosts(ctx).find((x) => x.id === v.host_id) : null;
    doc['os-vol-host-attr:host'] = h ? hostString({ name: h.name, backend: v.backend ?? h.backend }) : null;
    doc['os-vol-mig-status-attr:migstat'] = null;
    doc['os-vol-mig-status-attr:name_id'] = null;
  }
  return doc;
}

/**
 * A snapshot document: Cinder's ViewBuilder.summary (cinder/api/views/snapshots.py), which
 * is also its detail, create and update view and the non-detailed list item. `extended`
 * (show and detail lists) adds os-extended-snapshot-attributes:* as the controller extension
 * cinder/api/contrib/extended_snapshot_attributes.py does, on show/detail only.
 */
export function snapshotView(s: SnapshotRow, o: { extended: boolean } = { extended: true }): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    id: s.id,
    name: s.name,
    description: s.description,
    volume_id: s.volume_id,
    size: s.size,
    status: s.status,
    metadata: json(s.metadata, {}),
    created_at: ct(s.created_at),
    updated_at: ct(s.updated_at),
  };
  if (!o.extended) return doc;
  doc['os-extended-snapshot-attributes:project_id'] = s.project_id;
  doc['os-extended-snapshot-attributes:progress'] = s.progress ?? (s.status === 'available' ? '100%' : '0%');
  return doc;
}

/**
 * A volume type (cinder/api/views/types.py ViewBuilder.show, plus
 * os-volume-type-access:is_public from cinder/api/contrib/volume_type_access.py on show,
 * index and create). `qos_specs_id` is in show and lists for admins (QOS_POLICY); the create
 * answer has none (Tempest's create_volume_type schema refuses it), nor does the update
 * answer carry the access extension's key (update_volume_types).
 */
export function typeView(t: TypeRow, call: 'show' | 'create' | 'update' = 'show'): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    id: t.id,
    name: t.name,
    description: t.description,
    is_public: t.is_public === 1,
    extra_specs: json(t.extra_specs, {}),
  };
  if (call !== 'update') doc['os-volume-type-access:is_public'] = t.is_public === 1;
  if (call === 'show') doc.qos_specs_id = null;
  return doc;
}

/** The v3 attachments API document (connection_info only to the caller that set up the connection). */
export function attachmentView(a: AttachmentRow, connectionInfo?: unknown): Record<string, unknown> {
  return {
    id: a.id,
    volume_id: a.volume_id,
    instance: a.instance_uuid,
    attached_at: ct(a.attached_at),
    detached_at: null,
    status: a.attach_status,
    attach_mode: a.attach_mode,
    connection_info: connectionInfo ?? null,
  };
}
