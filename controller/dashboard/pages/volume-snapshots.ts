import { html } from '../html.js';
import type { Page } from '../page.js';
import { type VolumeDoc, volumesPath } from './volumes.js';
import {
  buttonForm,
  checkbox,
  checked,
  field,
  formBox,
  id,
  input,
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

interface SnapshotDoc {
  id: string;
  name: string | null;
  description: string | null;
  volume_id: string;
  size: number;
  status: string;
  created_at: string | null;
}

export const volumeSnapshotsPage: Page = {
  path: '/project/volume-snapshots',
  title: 'Volume snapshots',
  nav: { section: 'project', label: 'Volume Snapshots', order: 110 },
  async render(ctx) {
    const [snaps, vols] = await Promise.all([
      ctx.api.get<{ snapshots: SnapshotDoc[] }>('volume', volumesPath(ctx, 'snapshots/detail')),
      tryGet(ctx.api.get<{ volumes: VolumeDoc[] }>('volume', volumesPath(ctx, 'volumes/detail')), { volumes: [] }),
    ]);
    const volume = new Map(vols.value.volumes.map((v) => [v.id, v]));
    const rows = [...snaps.snapshots].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.id.localeCompare(b.id));
    const list = table(
      rows,
      [
        { label: 'Name', cell: (s) => nameOr({ id: s.id, name: s.name }) },
        {
          label: 'Volume',
          cell: (s) => {
            const v = volume.get(s.volume_id);
            return v ? nameOr({ id: v.id, name: v.name }) : s.volume_id;
          },
        },
        { label: 'Size', cell: (s) => `${s.size} GB` },
        { label: 'Status', cell: (s) => status(s.status) },
        { label: 'Created', cell: (s) => s.created_at ?? '' },
        { label: 'Description', cell: (s) => s.description ?? '' },
        {
          label: '',
          cell: (s) =>
            s.status === 'available' || s.status === 'error' ? buttonForm(ctx, 'delete', 'Delete', { id: s.id }, true) : '',
        },
      ],
      'No snapshots yet.',
    );
    const options = vols.value.volumes
      .filter((v) => v.status === 'available' || v.status === 'in-use')
      .map((v) => ({ value: v.id, label: `${nameOr({ id: v.id, name: v.name })} (${v.size} GB, ${v.status})` }))
      .sort((a, b) => a.label.localeCompare(b.label));
    const create = options.length
      ? formBox(
          ctx,
          'create',
          'Create a snapshot',
          [
            field('Volume', 'volume_id', select('volume_id', options)),
            field('Name', 'name', input('name', { required: true })),
            field('Description', 'description', input('description')),
            field('Force (volume in use)', 'force', checkbox('force', false)),
          ],
          'Create snapshot',
        )
      : html`<p class="hint">No volume to snapshot.</p>`;
    return html`<p>${link(ctx, '/project/volumes', '← Volumes')}</p>${notice(vols.error, 'volumes')}${list}${create}`;
  },
  actions: {
    async create(ctx, form) {
      const name = need(form, 'name', 'Name');
      const snapshot: Record<string, unknown> = {
        volume_id: id(form, 'volume_id', 'Volume'),
        name,
        force: checked(form, 'force'),
      };
      const description = opt(form, 'description');
      if (description) snapshot.description = description;
      await ctx.api.post('volume', volumesPath(ctx, 'snapshots'), { snapshot });
      return { redirect: to(ctx, '/project/volume-snapshots'), message: `Snapshot ${name} is being created.` };
    },
    async delete(ctx, form) {
      await ctx.api.delete('volume', volumesPath(ctx, `snapshots/${id(form, 'id', 'Snapshot')}`));
      return { redirect: to(ctx, '/project/volume-snapshots'), message: 'Snapshot deleted.' };
    },
  },
};
