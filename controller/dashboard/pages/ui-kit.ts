import { html, type SafeHtml } from '../html.js';
import { ApiError, type PageContext } from '../page.js';

/**
 * Small building blocks shared by the network, volume and admin pages: forms that always
 * carry the CSRF token, tables, form-field parsing that names the bad field. Everything
 * goes through `html`, so values from the API are escaped.
 */

/** The hidden inputs every form needs: the action name and the session's CSRF token. */
export function formHeader(ctx: PageContext, action: string): SafeHtml {
  return html`<input type="hidden" name="_action" value="${action}"><input type="hidden" name="_csrf" value="${ctx.csrf}">`;
}

/** A one-button form (delete, release, detach...) posting `action` with hidden fields. */
export function buttonForm(
  ctx: PageContext,
  action: string,
  label: string,
  fields: Record<string, string> = {},
  danger = false,
): SafeHtml {
  const hidden = Object.entries(fields).map(([k, v]) => html`<input type="hidden" name="${k}" value="${v}">`);
  return html`<form method="post" class="inline">${formHeader(ctx, action)}${hidden}<button type="submit"${danger ? html` class="danger" data-confirm="${label}: are you sure?"` : ''}>${label}</button></form>`;
}

export interface Column<T> {
  label: string;
  cell: (row: T) => SafeHtml | string | number | null | undefined;
}

export function table<T>(rows: T[], cols: Column<T>[], empty = 'None yet.'): SafeHtml {
  if (rows.length === 0) return html`<p class="empty">${empty}</p>`;
  return html`<table><thead><tr>${cols.map((c) => html`<th>${c.label}</th>`)}</tr></thead><tbody>${rows.map(
    (r) => html`<tr>${cols.map((c) => html`<td>${c.cell(r) ?? ''}</td>`)}</tr>`,
  )}</tbody></table>`;
}

export interface Option {
  value: string;
  label: string;
}

export function select(
  name: string,
  options: Option[],
  opts: { selected?: string; blank?: string; required?: boolean } = {},
): SafeHtml {
  const blank = opts.blank !== undefined ? html`<option value="">${opts.blank}</option>` : '';
  return html`<select name="${name}" id="f-${name}"${opts.required ? html` required` : ''}>${blank}${options.map(
    (o) => html`<option value="${o.value}"${o.value === opts.selected ? html` selected` : ''}>${o.label}</option>`,
  )}</select>`;
}

/** A labelled field row. */
export function field(label: string, name: string, control: SafeHtml): SafeHtml {
  return html`<label for="f-${name}">${label}</label>${control}`;
}

export function input(
  name: string,
  opts: { type?: string; value?: string; placeholder?: string; required?: boolean; min?: number } = {},
): SafeHtml {
  return html`<input type="${opts.type ?? 'text'}" name="${name}" id="f-${name}"${opts.value !== undefined ? html` value="${opts.value}"` : ''}${
    opts.placeholder ? html` placeholder="${opts.placeholder}"` : ''
  }${opts.required ? html` required` : ''}${opts.min !== undefined ? html` min="${opts.min}"` : ''}>`;
}

export function checkbox(name: string, checked: boolean): SafeHtml {
  return html`<input type="checkbox" name="${name}" id="f-${name}" value="on"${checked ? html` checked` : ''}>`;
}

/** A titled form with fields and a submit button. */
export function formBox(ctx: PageContext, action: string, title: string, fields: SafeHtml[], submit: string): SafeHtml {
  return html`<form method="post" class="box"><h3>${title}</h3>${formHeader(ctx, action)}<div class="fields">${fields}</div><button type="submit">${submit}</button></form>`;
}

export function link(ctx: PageContext, path: string, text: string): SafeHtml {
  return html`<a href="${ctx.base}${path}">${text}</a>`;
}

/** Where an action sends the browser next: the page path under the dashboard base. */
export function to(ctx: PageContext, path: string): string {
  return `${ctx.base}${path}`;
}

export function bad(message: string): never {
  throw new ApiError(400, message);
}

/** A required, trimmed form field; a missing one is an error naming the field. */
export function need(form: Record<string, string>, name: string, label = name): string {
  const v = (form[name] ?? '').trim();
  if (!v) bad(`${label} is required.`);
  return v;
}

export function opt(form: Record<string, string>, name: string): string | undefined {
  const v = (form[name] ?? '').trim();
  return v ? v : undefined;
}

export function int(form: Record<string, string>, name: string, label: string, min = 0): number {
  const s = need(form, name, label);
  if (!/^-?\d+$/.test(s)) bad(`${label} must be a whole number.`);
  const n = Number(s);
  if (n < min) bad(`${label} must be at least ${min}.`);
  return n;
}

export function checked(form: Record<string, string>, name: string): boolean {
  const v = form[name];
  return v === 'on' || v === 'true' || v === '1';
}

/** An API id from a form: no slashes or dots may reach a path. */
export function id(form: Record<string, string>, name: string, label = name): string {
  const v = need(form, name, label);
  if (!/^[A-Za-z0-9_-]+$/.test(v)) bad(`${label} is not a valid id.`);
  return v;
}

export function pathId(v: string | undefined, label = 'id'): string {
  if (!v || !/^[A-Za-z0-9_-]+$/.test(v)) throw new ApiError(404, `No such ${label}.`);
  return v;
}

export const shortId = (s: string | null | undefined): string => (s ? s.slice(0, 8) : '');

export function status(s: string | null | undefined): SafeHtml {
  const v = String(s ?? '');
  const cls = /^(ACTIVE|available|in-use|up|enabled|UP|true)$/.test(v) ? 'ok' : /ERROR|error|down|DOWN/.test(v) ? 'bad' : 'busy';
  return html`<span class="status ${cls}">${v}</span>`;
}

/** Name or, when empty, the short id (so an unnamed resource still has a label). */
export const nameOr = (r: { name?: string | null; id: string }): string => (r.name ? r.name : `(${shortId(r.id)})`);

/** Settled API calls for pages that show what they can: a failed call yields `fallback` and its message. */
export async function tryGet<T>(p: Promise<T>, fallback: T): Promise<{ value: T; error?: string }> {
  try {
    return { value: await p };
  } catch (err) {
    return { value: fallback, error: err instanceof Error ? err.message : String(err) };
  }
}

export function notice(error: string | undefined, what: string): SafeHtml | '' {
  return error ? html`<p class="flash error">Could not load ${what}: ${error}</p>` : '';
}
