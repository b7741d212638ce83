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
  os_glance_failed_import?: string;
}

interface TaskDoc {
  status: string;
  message: string;
}

const VISIBILITIES = ['private', 'shared', 'community', 'public'];
const FORMATS = ['qcow2', 'raw', 'iso', 'vmdk', 'vdi', 'vhd', 'vhdx'];

const mb = (n: number | null) => (n === null ? '' : n >= 1 << 20 ? `${(n / (1 << 20)).toFixed(1)} MiB` : `${n} B`);

/** The import's state for the Status cell: its progress while it runs, why it failed after. */
async function importNote(ctx: Parameters<Page['render']>[0], i: ImageDoc): Promise<string> {
  if (i.status !== 'importing' && !(i.status === 'queued' && i.os_glance_failed_import)) return '';
  const r = await ctx.api.raw<{ tasks: TaskDoc[] }>('GET', 'image', `/v2/images/${i.id}/tasks`);
  const last = r.status === 200 ? r.body.tasks[r.body.tasks.length - 1] : undefined;
  if (!last) return '';
  if (i.status === 'importing') return last.message || 'starting';
  return last.status === 'failure' ? `import failed: ${last.message}` : '';
}

/** Images: list, upload from the browser with a progress bar (static script), import from a URL, visibility, delete. */
export const imagesPage: Page = {
  path: '/project/images',
  title: 'Images',
  nav: { section: 'project', label: 'Images', order: 30 },
  async render(ctx) {
    const { images } = await ctx.api.get<{ images: ImageDoc[] }>('image', '/v2/images?limit=500');
    const mine = (i: ImageDoc) => i.owner === ctx.session.projectId || ctx.session.isAdmin;
    const rows = [...images].sort((a, b) => (a.name ?? '').localeCompare(b.name ?? '') || a.id.localeCompare(b.id));
    const notes = new Map(await Promise.all(rows.map(async (i) => [i.id, await importNote(ctx, i)] as const)));
    const list = table(
      rows,
      [
        { label: 'Name', cell: (i) => nameOr({ id: i.id, name: i.name }) },
        {
          label: 'Status',
          cell: (i) =>
            html`<span class="status ${i.status === 'active' ? 'ok' : i.status === 'killed' ? 'bad' : 'busy'}"${i.status === 'importing' ? html` data-import-id="${i.id}"` : ''}>${i.status}</span>${notes.get(i.id) ? html` <small class="note">${notes.get(i.id)}</small>` : ''}`,
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
<form id="image-import" method="post" class="box"><h3>Import from a URL</h3>${formHeader(ctx, 'import')}<div class="fields">
<label for="i-uri">URL</label><input type="url" id="i-uri" name="uri" required placeholder="http://nas.lan/images/debian-12.qcow2">
<label for="i-name">Name</label><input id="i-name" name="name" placeholder="(the file name)">
<label for="i-disk_format">Disk format</label><select id="i-disk_format" name="disk_format">${FORMATS.map((f) => html`<option>${f}</option>`)}</select>
<label for="i-visibility">Visibility</label><select id="i-visibility" name="visibility">${VISIBILITIES.slice(0, 2).map((v) => html`<option>${v}</option>`)}</select>
</div><button type="submit">Import</button> <progress id="import-progress" max="1" value="0"></progress> <span id="import-status" role="status"></span>
<p class="hint">The cloud downloads the image itself (Glance's web-download) and checks it as an upload: its format must match.</p></form>
<p>Launch an instance from an image on the ${link(ctx, '/project/instances', 'Instances')} page.</p>`;
  },
  actions: {
    async import(ctx, f) {
      const uri = need(f, 'uri', 'URL');
      const name = (f.name ?? '').trim() || decodeURIComponent(uri.split(/[?#]/)[0]!.split('/').pop() || 'image');
      const img = await ctx.api.post<{ id: string }>('image', '/v2/images', {
        name: name.slice(0, 255),
        disk_format: f.disk_format || 'qcow2',
        container_format: 'bare',
        visibility: f.visibility || 'private',
      });
      try {
        await ctx.api.post('image', `/v2/images/${img.id}/import`, { method: { name: 'web-download', uri } });
      } catch (e) {
        await ctx.api.delete('image', `/v2/images/${img.id}`).catch(() => {});
        throw e;
      }
      return { redirect: to(ctx, '/project/images'), message: `Importing ${name}.` };
    },
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
