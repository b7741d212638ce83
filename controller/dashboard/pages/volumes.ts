import { html, type SafeHtml } from '../html.js';
import type { Page, PageContext } from '../page.js';
import { fetchSchedules, schedulesTable } from './backup-schedules.js';
import {
  buttonForm,
  field,
  formBox,
  formHeader,
  id,
  input,
  int,
  link,
  nameOr,
  need,
  notice,
  opt,
  select,
  status,
  table,
  to,
  tryGet,
} from './ui-kit.js';

export interface VolumeDoc {
  id: string;
  name: string | null;
  description?: string | null;
  size: number;
  status: string;
  volume_type: string | null;
  bootable: string;
  attachments: Array<{ server_id: string; device: string | null }>;
}
interface ServerDoc {
  id: string;
  name: string;
  status: string;
}

export const volumesPath = (ctx: PageContext, rest = ''): string => `/v3/${encodeURIComponent(ctx.session.projectId)}/${rest}`;

function rowActions(ctx: PageContext, v: VolumeDoc, servers: ServerDoc[]): SafeHtml {
  const parts: SafeHtml[] = [];
  const targets = servers.filter((s) => s.status === 'ACTIVE' || s.status === 'SHUTOFF');
  if (v.status === 'available' && targets.length) {
    const opts = targets.map((s) => ({ value: s.id, label: nameOr(s) })).sort((a, b) => a.label.localeCompare(b.label));
    parts.push(
      html`<form method="post" class="inline">${formHeader(ctx, 'attach')}<input type="hidden" name="id" value="${v.id}">${select('server_id', opts)}<button type="submit">Attach</button></form>`,
    );
  }
  for (const a of v.attachments) parts.push(buttonForm(ctx, 'detach', 'Detach', { id: v.id, server_id: a.server_id }));
  if (v.status === 'available') {
    parts.push(
      html`<form method="post" class="inline">${formHeader(ctx, 'extend')}<input type="hidden" name="id" value="${v.id}"><input type="number" name="new_size" min="${v.size + 1}" value="${v.size + 1}" aria-label="New size (GB)"><button type="submit">Extend</button></form>`,
    );
  }
  if (v.status === 'available' || v.status === 'error') parts.push(buttonForm(ctx, 'delete', 'Delete', { id: v.id }, true));
  return html`${parts}`;
}

export const volumesPage: Page = {
  path: '/project/volumes',
  title: 'Volumes',
  nav: { section: 'project', label: 'Volumes', order: 100 },
  async render(ctx) {
    const [vols, servers, types, images, schedules] = await Promise.all([
      ctx.api.get<{ volumes: VolumeDoc[] }>('volume', volumesPath(ctx, 'volumes/detail')),
      tryGet(ctx.api.get<{ servers: ServerDoc[] }>('compute', '/v2.1/servers/detail'), { servers: [] }),
      tryGet(ctx.api.get<{ volume_types: Array<{ id: string; name: string }> }>('volume', volumesPath(ctx, 'types')), {
        volume_types: [],
      }),
      tryGet(ctx.api.get<{ images: Array<{ id: string; name: string | null; status: string }> }>('image', '/v2/images'), {
        images: [],
      }),
      fetchSchedules(ctx, null),
    ]);
    const server = new Map(servers.value.servers.map((s) => [s.id, s]));
    const attachedTo = (v: VolumeDoc) =>
      html`${v.attachments.map((a, i) => {
        const s = server.get(a.server_id);
        return html`${i ? ', ' : ''}${s ? link(ctx, `/project/instances/${encodeURIComponent(s.id)}`, nameOr(s)) : a.server_id}${a.device ? ` on ${a.device}` : ''}`;
      })}`;
    const rows = [...vols.volumes].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.id.localeCompare(b.id));
    const list = table(
      rows,
      [
        { label: 'Name', cell: (v) => nameOr({ id: v.id, name: v.name }) },
        { label: 'Size', cell: (v) => `${v.size} GB` },
        { label: 'Status', cell: (v) => status(v.status) },
        { label: 'Type', cell: (v) => v.volume_type ?? '' },
        { label: 'Bootable', cell: (v) => (v.bootable === 'true' ? 'yes' : 'no') },
        { label: 'Attached to', cell: attachedTo },
        { label: '', cell: (v) => rowActions(ctx, v, servers.value.servers) },
      ],
      'No volumes yet.',
    );
    const create = formBox(
      ctx,
      'create',
      'Create a volume',
      [
        field('Name', 'name', input('name', { required: true })),
        field('Size (GB)', 'size', input('size', { type: 'number', value: '1', min: 1, required: true })),
        field(
          'Type',
          'volume_type',
          select(
            'volume_type',
            types.value.volume_types.map((t) => ({ value: t.name, label: t.name })),
            { blank: '(default)' },
          ),
        ),
        field(
          'From image',
          'image_id',
          select(
            'image_id',
            images.value.images
              .filter((i) => i.status === 'active')
              .map((i) => ({ value: i.id, label: nameOr({ id: i.id, name: i.name }) })),
            { blank: '(empty volume)' },
          ),
        ),
        field('Description', 'description', input('description')),
      ],
      'Create',
    );
    const byId = new Map(vols.volumes.map((v) => [v.id, v]));
    const volumeSchedules = schedulesTable(
      schedules.value.filter((s) => s.volume_id !== null && byId.has(s.volume_id)),
      schedules.error,
      { label: 'Volume', cell: (s) => nameOr(byId.get(s.volume_id!)!) },
    );
    return html`${notice(servers.error, 'instances')}${list}${create}
<h2>Backup schedules</h2><section id="backup-schedules">${volumeSchedules}</section>
<p>${link(ctx, '/project/volume-snapshots', 'Volume snapshots')}</p>`;
  },
  actions: {
    async create(ctx, form) {
      const name = need(form, 'name', 'Name');
      const volume: Record<string, unknown> = { size: int(form, 'size', 'Size (GB)', 1), name };
      const type = opt(form, 'volume_type');
      if (type) volume.volume_type = type;
      if (opt(form, 'image_id')) volume.imageRef = id(form, 'image_id', 'Image');
      const description = opt(form, 'description');
      if (description) volume.description = description;
      await ctx.api.post('volume', volumesPath(ctx, 'volumes'), { volume });
      return { redirect: to(ctx, '/project/volumes'), message: `Volume ${name} is being created.` };
    },
    async attach(ctx, form) {
      const vid = id(form, 'id', 'Volume');
      const sid = id(form, 'server_id', 'Instance');
      await ctx.api.post('compute', `/v2.1/servers/${sid}/os-volume_attachments`, { volumeAttachment: { volumeId: vid } });
      return { redirect: to(ctx, '/project/volumes'), message: 'Volume attaching.' };
    },
    async detach(ctx, form) {
      const vid = id(form, 'id', 'Volume');
      const sid = id(form, 'server_id', 'Instance');
      await ctx.api.delete('compute', `/v2.1/servers/${sid}/os-volume_attachments/${vid}`);
      return { redirect: to(ctx, '/project/volumes'), message: 'Volume detaching.' };
    },
    async extend(ctx, form) {
      const vid = id(form, 'id', 'Volume');
      const size = int(form, 'new_size', 'New size (GB)', 1);
      await ctx.api.post('volume', volumesPath(ctx, `volumes/${vid}/action`), { 'os-extend': { new_size: size } });
      return { redirect: to(ctx, '/project/volumes'), message: `Volume extending to ${size} GB.` };
    },
    async delete(ctx, form) {
      await ctx.api.delete('volume', volumesPath(ctx, `volumes/${id(form, 'id', 'Volume')}`));
      return { redirect: to(ctx, '/project/volumes'), message: 'Volume deleted.' };
    },
  },
};
