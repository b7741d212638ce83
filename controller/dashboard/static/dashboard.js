// The dashboard's only script (CSP: script-src 'self', no inline code). Progressive:
// every page works without it; it adds live instance status and the upload progress bar.
const body = document.body;
const base = body.dataset.base || '/dashboard';
const csrf = body.dataset.csrf || '';

for (const sel of document.querySelectorAll('select[data-autosubmit]')) {
  sel.addEventListener('change', () => sel.form && sel.form.submit());
}
for (const btn of document.querySelectorAll('button[data-confirm]')) {
  btn.addEventListener('click', (e) => { if (!confirm(btn.dataset.confirm)) e.preventDefault(); });
}

// Live status: rows with data-server-id get their status cell refreshed every 3 s.
const rows = document.querySelectorAll('tr[data-server-id]');
if (rows.length) {
  const refresh = async () => {
    try {
      const r = await fetch(`${base}/api/servers`, { headers: { accept: 'application/json' }, credentials: 'same-origin' });
      if (!r.ok) return;
      const { servers } = await r.json();
      const byId = new Map(servers.map((s) => [s.id, s]));
      for (const row of rows) {
        const s = byId.get(row.dataset.serverId);
        const cell = row.querySelector('.status');
        if (!s || !cell) continue;
        const text = s.task_state ? `${s.status} (${s.task_state})` : s.status;
        if (cell.textContent !== text) {
          cell.textContent = text;
          cell.className = `status ${s.status === 'ACTIVE' ? 'ok' : s.status === 'ERROR' ? 'bad' : 'busy'}`;
        }
      }
    } catch { /* offline for a moment: try again next tick */ }
  };
  setInterval(refresh, 3000);
}

// Image upload: create the record, then PUT the file with XHR so progress can be shown.
const upload = document.querySelector('form#image-upload');
if (upload) {
  upload.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(upload);
    const file = f.get('file');
    const bar = document.querySelector('#upload-progress');
    const out = document.querySelector('#upload-status');
    const say = (t) => { if (out) out.textContent = t; };
    if (!(file instanceof File) || !file.size) return say('Choose a file first.');
    const meta = { name: f.get('name') || file.name, disk_format: f.get('disk_format'), container_format: 'bare', visibility: f.get('visibility') || 'private' };
    const r = await fetch(`${base}/api/images`, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(meta) });
    const created = await r.json().catch(() => ({}));
    if (!r.ok) return say(created.message || `Could not create the image (HTTP ${r.status}).`);
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', `${base}/api/images/${encodeURIComponent(created.id)}/file`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.setRequestHeader('x-csrf-token', csrf);
    xhr.upload.addEventListener('progress', (ev) => {
      if (ev.lengthComputable && bar) { bar.max = ev.total; bar.value = ev.loaded; }
      say(`Uploading: ${Math.round((100 * ev.loaded) / (ev.total || 1))}%`);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status < 300) { if (bar) bar.value = bar.max; say('Upload complete.'); location.assign(`${base}/project/images?uploaded=${encodeURIComponent(created.id)}`); }
      else { let m = `HTTP ${xhr.status}`; try { m = JSON.parse(xhr.responseText).message || m; } catch {} say(`Upload failed: ${m}`); }
    });
    xhr.addEventListener('error', () => say('Upload failed: connection lost.'));
    xhr.send(file);
  });
}
