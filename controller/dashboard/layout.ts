import { html, type SafeHtml } from './html.js';
import type { Page } from './page.js';
import type { Session } from './sessions.js';

const SECTIONS: Array<{ key: 'project' | 'admin' | 'identity'; label: string; admin: boolean }> = [
  { key: 'project', label: 'Project', admin: false },
  { key: 'admin', label: 'Admin', admin: true },
  { key: 'identity', label: 'Identity', admin: true },
];

function head(title: string): SafeHtml {
  return html`<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · Homestack</title><link rel="stylesheet" href="/dashboard/static/dashboard.css"><link rel="icon" href="data:,">
<script type="module" src="/dashboard/static/dashboard.js"></script></head>`;
}

export function loginPage(f: { base: string; error?: string; user?: string; domain?: string; loginCsrf: string }): string {
  return html`${head('Sign in')}<body class="login"><main class="login-box"><h1>Homestack</h1>
${f.error ? html`<p class="flash error" role="alert">${f.error}</p>` : ''}
<form method="post" action="${f.base}/login">
<input type="hidden" name="_csrf" value="${f.loginCsrf}">
<label for="f-domain">Domain</label><input id="f-domain" name="domain" value="${f.domain ?? 'Default'}" required>
<label for="f-user">User name</label><input id="f-user" name="username" value="${f.user ?? ''}" autocomplete="username" required autofocus>
<label for="f-password">Password</label><input id="f-password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button></form></main></body></html>`.value;
}

export function shell(o: {
  base: string;
  pages: readonly Page[];
  current: Page | null;
  session: Session;
  title: string;
  content: SafeHtml;
  path: string;
}): string {
  const s = o.session;
  const nav = SECTIONS.filter((sec) => !sec.admin || s.isAdmin).map((sec) => {
    const entries = o.pages
      .filter((p) => p.nav?.section === sec.key && (!p.adminOnly || s.isAdmin))
      .sort((a, b) => a.nav!.order - b.nav!.order);
    if (!entries.length) return html``;
    return html`<h2>${sec.label}</h2><ul>${entries.map((p) => html`<li><a href="${o.base}${p.path}"${p === o.current ? html` aria-current="page"` : ''}>${p.nav!.label}</a></li>`)}</ul>`;
  });
  const flash = s.flash
    ? html`<p class="flash ${s.flash.kind}" role="${s.flash.kind === 'error' ? 'alert' : 'status'}">${s.flash.text}</p>`
    : '';
  delete s.flash;
  return html`${head(o.title)}<body data-csrf="${s.csrf}" data-base="${o.base}"><header class="top"><a class="brand" href="${o.base}/">Homestack</a>
<form method="post" action="${o.base}/switch-project" class="switcher"><input type="hidden" name="_csrf" value="${s.csrf}">
<input type="hidden" name="next" value="${o.path}">
<label for="f-project">Project</label><select id="f-project" name="project_id" data-autosubmit>${s.projects.map((p) => html`<option value="${p.id}"${p.id === s.projectId ? html` selected` : ''}>${p.name}</option>`)}</select><button type="submit">Switch</button></form>
<span class="who">${s.userName} (${s.domainName})${s.isAdmin ? html` · admin` : ''}</span>
<form method="post" action="${o.base}/logout" class="inline"><input type="hidden" name="_csrf" value="${s.csrf}"><button type="submit">Sign out</button></form></header>
<nav class="side">${nav}</nav><main><h1>${o.title}</h1>${flash}${o.content}</main></body></html>`.value;
}

export function errorShell(title: string, message: string, base: string): string {
  return html`${head(title)}<body><main class="login-box"><h1>${title}</h1><p>${message}</p><p><a href="${base}/">Back to the dashboard</a></p></main></body></html>`
    .value;
}
