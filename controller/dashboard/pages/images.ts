import { html } from '../html.js';
import type { Page } from '../page.js';
import { buttonForm, formHeader, id, link, nameOr, need, table, to } from './ui-kit.js';

interface ImageDoc {
  id: string;
  name: string | null;
  status: string;
  visibility: string;
  disk_format: string | null;
  size: number | null;
  owner: string | null;
  protected: boolean;
}

const VISIBILITIES = ['private', 'shared', 'community', 'public'];
const FORMATS = ['qcow2', 'raw', 'iso', 'vmdk', 'vdi', 'vhd', 'vhdx'];

const mb = (n: number | null) => (n === null ? '' : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${n} B`);

/** Images: list, upload from the browser with a progress bar (static script), visibility, delete. */
export const imagesPage: Page = {
  path: '/project/images',
  title: 'Images',
  nav: { section: 'project', label: 'Images', order: 30 },
  async render(ctx) {
    const { images } = await ctx.api.get<{ images: ImageDoc[] }>('image', '/v2/images?limit=500');
    const mine = (i: ImageDoc) => i.owner === ctx.session.projectId || ctx.session.isAdmin;
    const rows = [...images].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.id.localeCompare(b.id));
    const list = table(
      rows,
      [
        { label: 'Name', cell: (i) => nameOr({ id: i.id, name: i.name }) },
        {
          label: 'Status',
          cell: (i) =>
            html`<span class="status ${i.status === 'active' ? 'ok' : i.status === 'killed' ? 'bad' : 'busy'}">${i.status}</span>`,
        },
        { label: 'Format', cell: (i) => i.disk_format ?? '' },
        { label: 'Size', cell: (i) => mb(i.size) },
        {
          label: 'Visibility',
          cell: (i) =>
            mine(i)
              ? html`<form method="post" class="inline">${formHeader(ctx, 'visibility')}<input type="hidden" name="id" value="${i.id}"><select name="visibility" aria-label="Visibility">${VISIBILITIES.map((v) => html`<option${v === i.visibility ? html` selected` : ''}>${v}</option>`)}</select><button type="submit">Set</button></form>`
              : i.visibility,
        },
        { label: '', cell: (i) => (mine(i) && !i.protected ? buttonForm(ctx, 'delete', 'Delete', { id: i.id }, true) : '') },
      ],
      'No images yet.',
    );
    return html`${list}
<form id="image-upload" class="box"><h3>Upload an image</h3><div class="fields">
<label for="f-file">File</label><input type="file" id="f-file" name="file" required>
<label for="f-name">Name</label><input id="f-name" name="name" placeholder="(the file name)">
<label for="f-disk_format">Disk format</label><select id="f-disk_format" name="disk_format">${FORMATS.map((f) => html`<option>${f}</option>`)}</select>
<label for="f-visibility">Visibility</label><select id="f-visibility" name="visibility">${VISIBILITIES.slice(0, 2).map((v) => html`<option>${v}</option>`)}</select>
</div><button type="submit">Upload</button> <progress id="upload-progress" max="1" value="0"></progress> <span id="upload-status" role="status"></span></form>
<p>Launch an instance from an image on the ${link(ctx, '/project/instances', 'Instances')} page.</p>`;
  },
  actions: {
    async visibility(ctx, f) {
      const iid = id(f, 'id', 'Image');
      const v = need(f, 'visibility', 'Visibility');
      await ctx.api.patch(
        'image',
        `/v2/images/${iid}`,
        [{ op: 'replace', path: '/visibility', value: v }],
        'application/openstack-images-v2.1-json-patch',
      );
      return { redirect: to(ctx, '/project/images'), message: `Visibility set to ${v}.` };
    },
    async delete(ctx, f) {
      const iid = id(f, 'id', 'Image');
      await ctx.api.delete('image', `/v2/images/${iid}`);
      return { redirect: to(ctx, '/project/images'), message: 'Image deleted.' };
    },
  },
};
