import { html } from '../html.js';
import type { Page } from '../page.js';
import { buttonForm, field, formBox, input, need, table, to } from './ui-kit.js';

interface KeypairDoc {
  keypair: { name: string; fingerprint: string; type?: string };
}

/** Key pairs of the signed-in user: list, import a public key, delete. */
export const keypairsPage: Page = {
  path: '/project/key-pairs',
  title: 'Key Pairs',
  nav: { section: 'project', label: 'Key Pairs', order: 40 },
  async render(ctx) {
    const { keypairs } = await ctx.api.get<{ keypairs: KeypairDoc[] }>('compute', '/v2.1/os-keypairs');
    return html`${table(
      keypairs.map((k) => k.keypair),
      [
        { label: 'Name', cell: (k) => k.name },
        { label: 'Fingerprint', cell: (k) => html`<code>${k.fingerprint}</code>` },
        { label: '', cell: (k) => buttonForm(ctx, 'delete', 'Delete', { name: k.name }, true) },
      ],
      'No key pairs yet.',
    )}
${formBox(
  ctx,
  'import',
  'Import a public key',
  [
    field('Name', 'name', input('name', { required: true })),
    field(
      'Public key',
      'public_key',
      html`<textarea name="public_key" id="f-public_key" rows="4" cols="60" required placeholder="ssh-ed25519 AAAA… user@host"></textarea>`,
    ),
  ],
  'Import',
)}`;
  },
  actions: {
    async import(ctx, f) {
      const name = need(f, 'name', 'Name');
      await ctx.api.post('compute', '/v2.1/os-keypairs', { keypair: { name, public_key: need(f, 'public_key', 'Public key') } });
      return { redirect: to(ctx, '/project/key-pairs'), message: `Key pair "${name}" imported.` };
    },
    async delete(ctx, f) {
      const name = need(f, 'name', 'Name');
      await ctx.api.delete('compute', `/v2.1/os-keypairs/${encodeURIComponent(name)}`);
      return { redirect: to(ctx, '/project/key-pairs'), message: `Key pair "${name}" deleted.` };
    },
  },
};
