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

// Import from a URL: create the record, start a web-download, then follow the import
// (bytes so far from the cloud) until the image is active or the import failed.
const importForm = document.querySelector('form#image-import');
if (importForm) {
  importForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    const f = new FormData(importForm);
    const bar = document.querySelector('#import-progress');
    const out = document.querySelector('#import-status');
    const say = (t) => { if (out) out.textContent = t; };
    const uri = String(f.get('uri') || '');
    const name = String(f.get('name') || '') || decodeURIComponent(uri.split(/[?#]/)[0].split('/').pop() || 'image');
    const post = (url, body) => fetch(url, { method: 'POST', credentials: 'same-origin', headers: { 'content-type': 'application/json', 'x-csrf-token': csrf }, body: JSON.stringify(body) });
    const r = await post(`${base}/api/images`, { name, disk_format: f.get('disk_format'), container_format: 'bare', visibility: f.get('visibility') || 'private' });
    const created = await r.json().catch(() => ({}));
    if (!r.ok) return say(created.message || `Could not create the image (HTTP ${r.status}).`);
    const id = encodeURIComponent(created.id);
    const s = await post(`${base}/api/images/${id}/import`, { uri });
    if (!s.ok) {
      const m = (await s.json().catch(() => ({}))).message || `HTTP ${s.status}`;
      await fetch(`${base}/api/images/${id}`, { method: 'DELETE', credentials: 'same-origin', headers: { 'x-csrf-token': csrf } }).catch(() => {});
      return say(`Import refused: ${m}`);
    }
    say('Import started.');
    const MiB = 1048576;
    const poll = async () => {
      let p;
      try {
        const q = await fetch(`${base}/api/images/${id}/import`, { credentials: 'same-origin', headers: { accept: 'application/json' } });
        if (!q.ok) return setTimeout(poll, 2000);
        p = await q.json();
      } catch { return setTimeout(poll, 2000); }
      if (p.status === 'active') { if (bar) bar.value = bar.max; say('Import complete.'); return location.assign(`${base}/project/images?uploaded=${id}`); }
      if (p.task_status === 'failure') return say(`Import failed: ${p.message}`);
      if (p.bytes !== null && bar) {
        if (p.total) { bar.max = p.total; bar.value = p.bytes; say(`Importing: ${Math.round((100 * p.bytes) / p.total)}% (${(p.bytes / MiB).toFixed(1)} of ${(p.total / MiB).toFixed(1)} MiB)`); }
        else { bar.removeAttribute('value'); say(`Importing: ${(p.bytes / MiB).toFixed(1)} MiB`); }
      } else say(p.message || `Import ${p.task_status || 'pending'}…`);
      setTimeout(poll, 1000);
    };
    poll();
  });
}

// Per-instance usage charts: samples of the host agent's counters every 5 s, drawn as
// sparklines (rates for the counters) with the latest value under each.
const usage = document.querySelector('#usage[data-server-id]');
if (usage) {
  const id = usage.dataset.serverId;
  const box = document.querySelector('#usage-charts');
  const status = document.querySelector('#usage-status');
  const samples = [];
  const SERIES = [
    { key: 'cpu', label: 'CPU', unit: '%', f: (a, b, dt) => (100 * (b.cpu_seconds - a.cpu_seconds)) / dt },
    { key: 'rss', label: 'Memory (RSS)', unit: ' MiB', f: (a, b) => b.rss_bytes / 1048576 },
    { key: 'rx', label: 'Network in', unit: ' KiB/s', f: (a, b, dt) => (b.net_rx_bytes - a.net_rx_bytes) / 1024 / dt },
    { key: 'tx', label: 'Network out', unit: ' KiB/s', f: (a, b, dt) => (b.net_tx_bytes - a.net_tx_bytes) / 1024 / dt },
    { key: 'rd', label: 'Disk read', unit: ' KiB/s', f: (a, b, dt) => (b.disk_read_bytes - a.disk_read_bytes) / 1024 / dt },
    { key: 'wr', label: 'Disk write', unit: ' KiB/s', f: (a, b, dt) => (b.disk_write_bytes - a.disk_write_bytes) / 1024 / dt },
  ];
  const NS = 'http://www.w3.org/2000/svg';
  const figures = new Map();
  for (const s of SERIES) {
    const fig = document.createElement('figure');
    fig.className = 'chart';
    fig.dataset.usage = s.key;
    const svg = document.createElementNS(NS, 'svg');
    svg.setAttribute('viewBox', '0 0 180 60');
    svg.setAttribute('width', '180');
    svg.setAttribute('height', '60');
    const line = document.createElementNS(NS, 'polyline');
    line.setAttribute('fill', 'none');
    line.setAttribute('stroke', '#2458c5');
    line.setAttribute('stroke-width', '2');
    svg.appendChild(line);
    const cap = document.createElement('figcaption');
    fig.append(svg, cap);
    box.appendChild(fig);
    figures.set(s.key, { line, cap, label: s.label });
  }
  const draw = () => {
    if (samples.length < 2) return;
    for (const s of SERIES) {
      const pts = [];
      for (let i = 1; i < samples.length; i++) {
        const dt = (samples[i].t - samples[i - 1].t) / 1000 || 1;
        pts.push(Math.max(0, s.f(samples[i - 1], samples[i], dt)));
      }
      // One rate so far: a flat line across the chart (a one-point polyline draws nothing).
      if (pts.length === 1) pts.push(pts[0]);
      const max = Math.max(...pts, s.key === 'cpu' ? 100 : 1e-9);
      const { line, cap, label } = figures.get(s.key);
      line.setAttribute('points', pts.map((v, i) => `${(i * 180) / Math.max(1, pts.length - 1)},${58 - (v / max) * 56}`).join(' '));
      cap.textContent = `${label}: ${pts[pts.length - 1].toFixed(1)}${s.unit}`;
    }
  };
  const poll = async () => {
    try {
      const r = await fetch(`${base}/api/servers/${encodeURIComponent(id)}/usage`, { credentials: 'same-origin' });
      const { usage: u } = r.ok ? await r.json() : { usage: null };
      if (!u) { if (!samples.length) box.hidden = true; if (status) status.textContent = 'No samples: the instance is not running on a host that reports it.'; return; }
      box.hidden = false;
      samples.push(u);
      if (samples.length > 61) samples.shift();
      if (status) status.textContent = `${samples.length} sample(s), every 5 s.`;
      draw();
    } catch { /* try again next tick */ }
  };
  poll();
  setInterval(poll, 5000);
}
