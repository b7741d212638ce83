import { html, type SafeHtml } from '../html.js';
import type { Page, PageContext } from '../page.js';
import {
  buttonForm,
  field,
  formBox,
  id,
  input,
  int,
  link,
  nameOr,
  need,
  notice,
  opt,
  select,
  table,
  to,
  tryGet,
} from './ui-kit.js';

export interface ServerDoc {
  id: string;
  name: string;
  status: string;
  'OS-EXT-STS:task_state'?: string | null;
  'OS-EXT-STS:vm_state'?: string;
  addresses: Record<string, Array<{ addr: string; 'OS-EXT-IPS:type'?: string }>>;
  image: { id: string } | '';
  flavor: { id?: string; original_name?: string };
  key_name: string | null;
  created: string;
  fault?: { message: string };
}

export function addressList(s: ServerDoc): string {
  return Object.entries(s.addresses ?? {})
    .map(([net, a]) => `${net}: ${a.map((x) => x.addr).join(', ')}`)
    .join('; ');
}

export function serverStatus(s: ServerDoc): SafeHtml {
  const task = s['OS-EXT-STS:task_state'];
  const cls = s.status === 'ACTIVE' ? 'ok' : s.status === 'ERROR' ? 'bad' : 'busy';
  return html`<span class="status ${cls}">${task ? `${s.status} (${task})` : s.status}</span>`;
}

function actionsOf(ctx: PageContext, s: ServerDoc): SafeHtml {
  const f = { id: s.id };
  return html`${s.status === 'SHUTOFF' ? buttonForm(ctx, 'start', 'Start', f) : ''}${s.status === 'ACTIVE' ? html`${buttonForm(ctx, 'stop', 'Stop', f)}${buttonForm(ctx, 'reboot', 'Reboot', f)}` : ''}${buttonForm(ctx, 'delete', 'Delete', f, true)}`;
}

const ACTIONS: Record<string, unknown> = {
  start: { 'os-start': null },
  stop: { 'os-stop': null },
  reboot: { reboot: { type: 'SOFT' } },
};

async function launchForm(ctx: PageContext): Promise<SafeHtml> {
  const [images, flavors, networks, keys, groups] = await Promise.all([
    tryGet(
      ctx.api.get<{ images: Array<{ id: string; name: string | null; status: string }> }>('image', '/v2/images?status=active'),
      { images: [] },
    ),
    tryGet(
      ctx.api.get<{ flavors: Array<{ id: string; name: string; vcpus: number; ram: number; disk: number }> }>(
        'compute',
        '/v2.1/flavors/detail',
      ),
      { flavors: [] },
    ),
    tryGet(
      ctx.api.get<{ networks: Array<{ id: string; name: string; 'router:external'?: boolean }> }>('network', '/v2.0/networks'),
      { networks: [] },
    ),
    tryGet(ctx.api.get<{ keypairs: Array<{ keypair: { name: string } }> }>('compute', '/v2.1/os-keypairs'), { keypairs: [] }),
    tryGet(
      ctx.api.get<{ security_groups: Array<{ id: string; name: string }> }>(
        'network',
        `/v2.0/security-groups?project_id=${encodeURIComponent(ctx.session.projectId)}`,
      ),
      { security_groups: [] },
    ),
  ]);
  const byName = <T extends { name: string | null }>(a: T[]) => [...a].sort((x, y) => (x.name ?? '').localeCompare(y.name ?? ''));
  const groupOptions = byName(groups.value.security_groups).map(
    (g) => html`<option value="${g.name}"${g.name === 'default' ? html` selected` : ''}>${g.name}</option>`,
  );
  return formBox(
    ctx,
    'launch',
    'Launch instance',
    [
      field('Name', 'name', input('name', { required: true })),
      field(
        'Image',
        'image',
        select(
          'image',
          byName(images.value.images).map((i) => ({ value: i.id, label: nameOr({ id: i.id, name: i.name }) })),
          { required: true },
        ),
      ),
      field(
        'Flavor',
        'flavor',
        select(
          'flavor',
          flavors.value.flavors.map((f) => ({ value: f.id, label: `${f.name} (${f.vcpus} vCPU, ${f.ram} MB, ${f.disk} GB)` })),
          { required: true },
        ),
      ),
      field(
        'Network',
        'network',
        select(
          'network',
          byName(networks.value.networks.filter((n) => !n['router:external'])).map((n) => ({ value: n.id, label: nameOr(n) })),
          { blank: '(automatic)' },
        ),
      ),
      field(
        'Key pair',
        'key_name',
        select(
          'key_name',
          keys.value.keypairs.map((k) => ({ value: k.keypair.name, label: k.keypair.name })),
          { blank: '(none)' },
        ),
      ),
      field(
        'Security groups',
        'security_groups',
        html`<select name="security_groups" id="f-security_groups" multiple>${groupOptions}</select>`,
      ),
      field('User data', 'user_data', html`<textarea name="user_data" id="f-user_data" rows="4" cols="50"></textarea>`),
      field('Count', 'count', input('count', { type: 'number', value: '1', min: 1 })),
    ],
    'Launch',
  );
}

export const instancesPage: Page = {
  path: '/project/instances',
  title: 'Instances',
  nav: { section: 'project', label: 'Instances', order: 20 },
  async render(ctx) {
    const [servers, flavors, images] = await Promise.all([
      ctx.api.get<{ servers: ServerDoc[] }>('compute', '/v2.1/servers/detail'),
      tryGet(ctx.api.get<{ flavors: Array<{ id: string; name: string }> }>('compute', '/v2.1/flavors'), { flavors: [] }),
      tryGet(ctx.api.get<{ images: Array<{ id: string; name: string | null }> }>('image', '/v2/images'), { images: [] }),
    ]);
    const flavor = new Map(flavors.value.flavors.map((f) => [f.id, f.name]));
    const image = new Map(images.value.images.map((i) => [i.id, i.name ?? i.id]));
    const rows = [...servers.servers].sort((a, b) => a.name.localeCompare(b.name) || a.id.localeCompare(b.id));
    const list = rows.length
      ? html`<table><thead><tr><th>Name</th><th>Image</th><th>Flavor</th><th>Addresses</th><th>Status</th><th>Actions</th></tr></thead><tbody>${rows.map(
          (s) =>
            html`<tr data-server-id="${s.id}"><td>${link(ctx, `/project/instances/${encodeURIComponent(s.id)}`, nameOr(s))}</td><td>${s.image ? (image.get(s.image.id) ?? s.image.id) : '(volume)'}</td><td>${s.flavor.original_name ?? flavor.get(s.flavor.id ?? '') ?? s.flavor.id ?? ''}</td><td>${addressList(s)}</td><td>${serverStatus(s)}</td><td>${actionsOf(ctx, s)}</td></tr>`,
        )}</tbody></table>`
      : html`<p class="empty">No instances yet.</p>`;
    return html`${notice(images.error, 'images')}${list}${await launchForm(ctx)}`;
  },
  actions: {
    async launch(ctx, f) {
      const count = f.count ? int(f, 'count', 'Count', 1) : 1;
      const server: Record<string, unknown> = {
        name: need(f, 'name', 'Name'),
        imageRef: id(f, 'image', 'Image'),
        flavorRef: id(f, 'flavor', 'Flavor'),
        min_count: count,
        max_count: count,
      };
      // No network chosen: omitted, as Nova before 2.37 reads it (the project's one network).
      if (opt(f, 'network')) server.networks = [{ uuid: id(f, 'network', 'Network') }];
      const key = opt(f, 'key_name');
      if (key) server.key_name = key;
      const groups = (f.security_groups ?? '')
        .split(',')
        .map((g) => g.trim())
        .filter(Boolean);
      if (groups.length) server.security_groups = groups.map((name) => ({ name }));
      if (f.user_data?.trim()) server.user_data = Buffer.from(f.user_data.replace(/\r\n/g, '\n')).toString('base64');
      await ctx.api.post('compute', '/v2.1/servers', { server });
      return {
        redirect: to(ctx, '/project/instances'),
        message: count > 1 ? `Launching ${count} instances "${server.name}".` : `Launching instance "${server.name}".`,
      };
    },
    async start(ctx, f) {
      return serverAction(ctx, f, 'start', 'Starting');
    },
    async stop(ctx, f) {
      return serverAction(ctx, f, 'stop', 'Stopping');
    },
    async reboot(ctx, f) {
      return serverAction(ctx, f, 'reboot', 'Rebooting');
    },
    async delete(ctx, f) {
      const sid = id(f, 'id', 'Instance');
      await ctx.api.delete('compute', `/v2.1/servers/${sid}`);
      return { redirect: to(ctx, '/project/instances'), message: 'Deleting the instance.' };
    },
  },
};

async function serverAction(ctx: PageContext, f: Record<string, string>, what: string, verb: string) {
  const sid = id(f, 'id', 'Instance');
  await ctx.api.post('compute', `/v2.1/servers/${sid}/action`, ACTIONS[what]);
  const back = f.next === 'detail' ? `/project/instances/${sid}` : '/project/instances';
  return { redirect: to(ctx, back), message: `${verb} the instance.` };
}
